"""vgp-explorer: the site. Navigation and page selection only; every page lives in app/pages/."""

import os
import sys

import panel as pn

# `panel serve app` runs this file as a script: make `app.*` importable as a package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.components.preparing import site_view  # noqa: E402
from app.site import build_site  # noqa: E402

pn.extension("katex", notifications=True, reconnect=True)
# the site, or "preparing…" while the warm-up compiles the page's programs (app/components/preparing.py)
site_view(build_site).servable(title="vgp-explorer")
