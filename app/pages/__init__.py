"""One module per page: its ``param.Parameterized`` model and its views. ``PAGES`` lists them in menu order.

Every page class is a subclass of ``app.components.page.Page``, which owns the lifecycle (URL query in, notices,
background runs, redraws declared in ``REDRAWS``, URL mirror). The site, the export buttons, presentation mode and
the ``vgp export`` CLI rely on this protocol:

- ``Page(query=None)``: ``query`` maps control names to raw strings (default: the server session's URL query);
  bad values are clamped or ignored and reported in ``page.query_notices`` (a list of strings) and on the page;
- ``page.model``: the ``param.Parameterized`` holding every control; ``page.notices``: what the page reports;
- ``page.panel()``: the layout;
- ``page.figures()``: ordered ``{name: bokeh figure}`` of every figure the page shows (kebab-case names);
- ``page.settle(timeout_s)``: finish deferred and background work (training runs) so the figures are final
  (used outside a server: CLI export, notebooks, tests).
"""

from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class PageSpec:
    slug: str  # URL value of ?page= and the PAGE argument of `vgp export`
    title: str
    module: str  # app.pages.<module>
    class_name: str

    def page_class(self) -> type:
        """The page class (imported lazily: a session imports only the page it shows)."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.class_name)

    def build(self, query: dict[str, str] | None = None):
        """A new page object; ``query`` as in the page protocol (None: the session's URL query)."""
        return self.page_class()(query=query)


PAGES = (
    PageSpec("deep", "Deep network", "deep", "DeepNetworkPage"),
    PageSpec("recurrent", "Recurrent network", "recurrent", "RecurrentPage"),
    PageSpec("bifurcation", "Bifurcation", "bifurcation", "BifurcationPage"),
    PageSpec("cliff", "Loss cliff", "cliff", "LossCliffPage"),
    PageSpec("glorot", "Glorot & Bengio 2010", "glorot", "GlorotPage"),
    PageSpec("remedies", "Remedies", "remedies", "RemediesPage"),
    PageSpec("edge-of-chaos", "Edge of chaos", "edge_of_chaos", "EdgeOfChaosPage"),
)


def page_spec(slug: str) -> PageSpec:
    """The page with this slug; ``KeyError`` naming the valid slugs otherwise."""
    for spec in PAGES:
        if spec.slug == slug:
            return spec
    raise KeyError(f"unknown page {slug!r}; pages: {', '.join(p.slug for p in PAGES)}")
