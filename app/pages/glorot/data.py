"""Page "Glorot & Bengio 2010", its data: the committed runs of ``vgp_core.experiments.glorot2010``
(``assets/glorot2010/results*.json``), read on first use (not on import) and once per server process, and the
constants every part of the page shares.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Sec. 2 (Shapeset-3x2, the 5 × 1000 nets), Sec. 4.2.1 (the Jacobians' singular values), Table 1 (test errors).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path

import numpy as np
from bokeh.palettes import Viridis256

from vgp_core.experiments import glorot2010 as g10

log = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).resolve().parents[3] / "assets" / "glorot2010"


@dataclasses.dataclass(frozen=True)
class RunFile:
    key: str  # value of ?run=
    filename: str  # in RESULTS_DIR
    device: str  # where it ran (provenance from assets/glorot2010/README.md; the file records only the platform)


RUN_FILES = (RunFile("cpu", "results.json", "CPU"), RunFile("h100", "results-h100.json", "H100"))

#: Glorot & Bengio 2010, Sec. 4.2.1: average singular value of the layer Jacobian with tanh.
PAPER_JACOBIAN_SV = {"standard": 0.5, "glorot_uniform": 0.8}
INIT_LABELS = {"standard": "standard", "glorot_uniform": "normalized"}
INIT_COLORS = {"standard": "#d62728", "glorot_uniform": "#1f77b4"}
ACTIVATION_COLORS = {"sigmoid": "#2ca02c", "tanh": "#8c564b", "softsign": "#9467bd"}
# Colour is never the only carrier of meaning (WCAG 2.1 success criterion 1.4.1): every series that a colour tells
# apart also has its own marker (layers, initializations, activations) or hatch (the test-error bars).
LAYER_MARKERS = ("circle", "square", "triangle", "diamond", "inverted_triangle", "hex", "star", "plus")
INIT_MARKERS = {"standard": "circle", "glorot_uniform": "triangle"}
ACTIVATION_MARKERS = {"sigmoid": "circle", "tanh": "square", "softsign": "diamond"}
#: the test-error bars: our runs (in file order), then the paper's
BAR_HATCHES = ("blank", "right_diagonal_line", "dot")
CHANCE = 1.0 - 1.0 / g10.N_CLASSES  # balanced classes: always guessing one class
#: a difference is called real when it exceeds this many standard errors of the test-set estimate.
SIGNIFICANT_SE = 2.0
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
CMP_LABEL = "other init (dashed)"  # replaced by the other init's name
FIG_HEIGHT = 400  # 330 for the plot, the rest for the legend below it


# ----------------------------------------------------------------------------------------------------------------
# Data: read on first use, once per server process (importing the page reads no file)


@functools.cache
def load_result(key: str) -> g10.Glorot2010Result:
    """The committed run ``key`` (see RUN_FILES), parsed once per process by the engine's own JSON loader."""
    spec = next((r for r in RUN_FILES if r.key == key), None)
    if spec is None:
        raise KeyError(f"unknown run {key!r}; runs: {', '.join(r.key for r in RUN_FILES)}")
    return g10.Glorot2010Result.from_json((RESULTS_DIR / spec.filename).read_text())


def run_label(spec: RunFile, result: g10.Glorot2010Result) -> str:
    """E.g. "CPU run (3000 updates)", the budget read from the file."""
    return f"{spec.device} run ({result.config.updates} updates)"


@functools.cache
def _catalogue() -> tuple[dict[str, str], dict[str, str]]:
    """(label -> key of every committed run file that loads, file name -> why it did not for the others); a
    missing or malformed file is skipped with a log line. Read once per process, on first use."""
    runs, unavailable = {}, {}
    for spec in RUN_FILES:
        try:
            runs[run_label(spec, load_result(spec.key))] = spec.key
        except (OSError, ValueError, TypeError, KeyError) as exc:  # missing or malformed file
            log.warning("Glorot & Bengio run %s not available: %s", spec.filename, exc)
            # no absolute path in the reason: it is shown on the page
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            unavailable[spec.filename] = why
    return runs, unavailable


def runs() -> dict[str, str]:
    """label -> key of every committed run that loads, in RUN_FILES order (the run control's choices).

    Raises ``RuntimeError`` naming the folder and the reasons when none loads."""
    found, unavailable = _catalogue()
    if not found:
        reasons = "; ".join(f"{name}: {why}" for name, why in unavailable.items())
        raise RuntimeError(f"no Glorot & Bengio 2010 results in {RESULTS_DIR} ({reasons})")
    return dict(found)


def unavailable_runs() -> dict[str, str]:
    """File name -> why it could not be read, for every committed run file that did not load (empty when all
    did)."""
    return dict(_catalogue()[1])


def labels_by_key() -> dict[str, str]:
    """key -> label of every run that loads."""
    return {key: label for label, key in runs().items()}


def default_run() -> str:
    """The run shown first: the first of RUN_FILES that loads."""
    return next(iter(runs().values()))


def max_depth() -> int:
    """The deepest net of the runs that load (the number of per-layer series every figure holds)."""
    return max(load_result(k).config.depth for k in runs().values())


@functools.cache
def layer_colors() -> tuple[str, ...]:
    """One colour per layer 1..max_depth() (200: no pale yellow)."""
    return tuple(Viridis256[int(round(i))] for i in np.linspace(0, 200, max_depth()))


#: the names these values had as module constants, computed at import; now read on first access (PEP 562)
_LAZY = {"RUNS": runs, "LABELS_BY_KEY": labels_by_key, "DEFAULT_RUN": default_run, "MAX_DEPTH": max_depth}


def __getattr__(name: str):
    if name in _LAZY:
        return _LAZY[name]()
    if name == "LAYER_COLORS":
        return list(layer_colors())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def n_checkpoints(run: str) -> int:
    return len(load_result(run).combinations[0].run.checkpoint_updates)


def other_init(init: str) -> str:
    return "standard" if init == "glorot_uniform" else "glorot_uniform"


def paper_label(activation: str, init: str) -> str:
    return activation.capitalize() + (" N" if init == "glorot_uniform" else "")
