"""Page "Glorot & Bengio 2010": the committed runs of the reproduction engine, shown the way the paper shows them.

Nothing is trained here. ``vgp_core.experiments.glorot2010`` trained the paper's 5 × 1000 nets on Shapeset-3x2 for
every (activation, init) and wrote per-layer statistics to ``assets/glorot2010/results*.json``; this page reads
those files on first use, once per server process (``load_result``, a ``functools.cache``; importing the page
reads no file), and every control only picks which arrays go into the (created-once) figures' data sources. A
missing run file is reported on the page (the other run is shown); with none at all, building the page raises a
``RuntimeError`` naming the folder.

Every number a move can show is known when the page opens, so the controls that choose within the shown
combination (layer, checkpoint, histogram snapshot, gradient kind, compare: ``BROWSER_PARAMS``) act in the browser
alone (``app.components.browser_views``): for the shown combination the page computes, once per process, every value
of every view those controls select (``BROWSER_VIEWS`` -> tables), sends the tables with the page, and a move picks
from them in a CustomJS callback — no message to the server, redrawn within a frame. The page's own draw (tests,
``vgp export``) picks from the same tables. Run, activation and init (``SERVER_PARAMS``) choose another combination:
such a move sends the browser's state of every control to the server, which draws the combination and sends its
tables.

``GlorotModel`` declares every control; ``GlorotPage`` owns the figures and updates their sources in place. Every
number shown, including the sentences comparing our test errors with the paper's Table 1, is computed from the
files: the page hard-codes no result.

Modules: ``data`` (the committed runs, read on first use, once per process), ``model`` (the controls, presets and
explanation), ``views`` (numbers to drawable tables), ``figures`` (the Bokeh figures, built once per session) and
``page`` (``GlorotPage``). This package re-exports the names the rest of the app and the tests use.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS
  (PMLR 9:249-256), Sec. 4 and Figs. 2-9, Table 1.
"""

from __future__ import annotations

from . import data, model
from .data import load_result
from .model import BROWSER_PARAMS, PRESETS, SERVER_PARAMS, URL_PARAMS
from .page import GlorotPage
from .views import BROWSER_VIEWS, comparison_notes

__all__ = [
    "BROWSER_PARAMS",
    "BROWSER_VIEWS",
    "PRESETS",
    "RUNS",
    "SERVER_PARAMS",
    "URL_PARAMS",
    "GlorotModel",
    "GlorotPage",
    "comparison_notes",
    "load_result",
]


def __getattr__(name: str):
    """``GlorotModel`` (its run-dependent controls fitted to the committed runs) and ``RUNS`` (label -> key of the
    runs that load): the files are read on the first access, not on import (PEP 562)."""
    if name == "GlorotModel":
        return model.fit_to_runs()
    if name == "RUNS":
        return data.runs()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
