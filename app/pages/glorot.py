"""Page "Glorot & Bengio 2010": the committed runs of the reproduction engine, shown the way the paper shows them.

Nothing is trained here. ``vgp_core.experiments.glorot2010`` trained the paper's 5 × 1000 nets on Shapeset-3x2 for
every (activation, init) and wrote per-layer statistics to ``assets/glorot2010/results*.json``; this page reads
those files once per server process (``load_result``, an ``lru_cache``) and every control only picks which arrays
go into the (created-once) figures' data sources.

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
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from pathlib import Path

import numpy as np
import panel as pn
import param
from bokeh.core.property.validation import without_property_validation
from bokeh.core.property.vectorization import value
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, LabelSet, Range1d, Span
from bokeh.palettes import Viridis256
from bokeh.plotting import figure
from bokeh.transform import dodge

from vgp_core import ConfigError
from vgp_core.experiments import glorot2010 as g10

from ..components.browser_views import BrowserViews, Control, Tables, browser_only
from ..components.explanation import explanation_panel
from ..components.heatmap import OVERFLOW_COLOR, UNDERFLOW_COLOR
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.url_state import apply_query

log = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).resolve().parents[2] / "assets" / "glorot2010"


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
CHANCE = 1.0 - 1.0 / g10.N_CLASSES  # balanced classes: always guessing one class
#: a difference is called real when it exceeds this many standard errors of the test-set estimate.
SIGNIFICANT_SE = 2.0
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
CMP_LABEL = "other init (dashed)"  # replaced by the other init's name
FIG_HEIGHT = 400  # 330 for the plot, the rest for the legend below it


# ----------------------------------------------------------------------------------------------------------------
# Data: read once per server process


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


def _available_runs() -> dict[str, str]:
    """label -> key of every committed run file that loads (a missing one is skipped with a log line)."""
    runs = {}
    for spec in RUN_FILES:
        try:
            runs[run_label(spec, load_result(spec.key))] = spec.key
        except (OSError, ValueError, TypeError, KeyError) as exc:  # missing or malformed file
            log.warning("Glorot & Bengio run %s not available: %s", spec.filename, exc)
    if not runs:
        raise RuntimeError(f"no Glorot & Bengio 2010 results in {RESULTS_DIR}")
    return runs


RUNS = _available_runs()
LABELS_BY_KEY = {key: label for label, key in RUNS.items()}
DEFAULT_RUN = next(iter(RUNS.values()))
MAX_DEPTH = max(load_result(k).config.depth for k in RUNS.values())
LAYER_COLORS = [Viridis256[int(round(i))] for i in np.linspace(0, 200, MAX_DEPTH)]  # 200: no pale yellow


def n_checkpoints(run: str) -> int:
    return len(load_result(run).combinations[0].run.checkpoint_updates)


def other_init(init: str) -> str:
    return "standard" if init == "glorot_uniform" else "glorot_uniform"


def paper_label(activation: str, init: str) -> str:
    return activation.capitalize() + (" N" if init == "glorot_uniform" else "")


# ----------------------------------------------------------------------------------------------------------------
# Controls


class GlorotModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    run = param.Selector(
        default=DEFAULT_RUN,
        objects=RUNS,
        doc="Which committed run of the reproduction engine (assets/glorot2010/): the budget is read from the file.",
    )
    activation = param.Selector(
        default="sigmoid",
        objects=list(g10.ACTIVATIONS),
        doc="Activation of the 5 hidden layers: sigmoid, tanh or softsign x/(1+|x|).",
    )
    init = param.Selector(
        default="standard",
        objects={"standard U[±1/√n] (Eq. 1)": "standard", "normalized U[±√6/√(n_in+n_out)] (Eq. 16)": "glorot_uniform"},
        doc="Weight initialization.",
    )
    layer = param.Integer(
        MAX_DEPTH, bounds=(1, MAX_DEPTH), doc="Hidden layer highlighted in every view (1 = input side)."
    )
    checkpoint = param.Integer(
        n_checkpoints(DEFAULT_RUN) - 1,
        bounds=(0, n_checkpoints(DEFAULT_RUN) - 1),
        doc="Checkpoint shown (0 = initialization, last = end of training); the statistics "
        "were measured on 300 probe images at each checkpoint.",
    )
    snapshot = param.Selector(
        default="final",
        objects={"at initialization": "initial", "after training": "final"},
        doc="The engine stores histograms only at initialization and after the last update.",
    )
    grad_kind = param.Selector(
        default="backprop",
        objects={"∂C/∂s (Fig. 7)": "backprop", "∂C/∂W (Fig. 8)": "weight"},
        doc="Which gradients the gradient histogram shows: back-propagated ∂C/∂s or the weight gradients ∂C/∂W.",
    )
    compare = param.Boolean(
        True, doc="Overlay the other initialization (dashed) in the histograms and the variance plots."
    )

    def __init__(self, **params):
        super().__init__(**params)
        self._fitted_run = None
        self._fit_to_run()

    @param.depends("run", watch=True)
    def _fit_to_run(self):
        """Checkpoint and layer bounds follow the run; the checkpoint keeps its fraction of training."""
        result = load_result(self.run)
        n_new = n_checkpoints(self.run)
        if self._fitted_run is not None and self._fitted_run != self.run:
            n_old = n_checkpoints(self._fitted_run)
            fraction = self.checkpoint / max(1, n_old - 1)
            target = int(round(fraction * (n_new - 1)))
        else:
            target = min(int(self.checkpoint), n_new - 1)
        self._fitted_run = self.run
        self.param.checkpoint.bounds = (0, n_new - 1)
        self.param.layer.bounds = (1, result.config.depth)
        self.param.update(checkpoint=target, layer=min(int(self.layer), result.config.depth))


#: URL: ``run`` is applied first, so that the checkpoint is checked against that run's number of checkpoints.
URL_PARAMS = ["run", "activation", "init", "layer", "checkpoint", "snapshot", "grad_kind", "compare"]
#: controls that choose the combination (a data file, an activation, an init): a move asks the server.
SERVER_PARAMS = ["run", "activation", "init"]
#: controls that choose within the shown combination's arrays: a move is drawn in the browser alone.
BROWSER_PARAMS = ["layer", "checkpoint", "snapshot", "grad_kind", "compare"]
#: the download buttons under every figure (``ExportDownload``'s css class): before one is pressed the server is
#: sent the browser's state, so that it exports what the browser shows.
DOWNLOAD_SELECTOR = ".vgp-download"

PRESETS = {
    "Fig. 2: sigmoid, top layer saturates": dict(
        activation="sigmoid", init="standard", layer=5, snapshot="final", grad_kind="backprop"
    ),
    "Fig. 3–4: tanh": dict(activation="tanh", init="standard", layer=1, snapshot="final", grad_kind="backprop"),
    "Fig. 3–4: softsign": dict(activation="softsign", init="standard", layer=5, snapshot="final", grad_kind="backprop"),
    "Fig. 6–7: histograms, standard vs normalized": dict(
        activation="tanh", init="standard", layer=1, snapshot="initial", grad_kind="backprop", compare=True
    ),
    "Fig. 8–9: gradient variance": dict(
        activation="tanh", init="standard", layer=1, snapshot="initial", grad_kind="weight", compare=True
    ),
    "Table 1: softsign, normalized": dict(
        activation="softsign", init="glorot_uniform", layer=5, snapshot="final", grad_kind="backprop"
    ),
}

EXPLANATION = (
    (
        "md",
        """### What the paper found, and what you see
Glorot & Bengio (2010) trained nets of 5 hidden layers of 1000 units on Shapeset-3x2 with plain SGD and watched
each layer. With layers s^i = z^i W^i + b^i, z^{i+1} = f(s^i), in the linear regime of f the variances of the
activations and of the back-propagated gradients are""",
    ),
    (
        "tex",
        r"\mathrm{Var}[z^i] = \mathrm{Var}[x]\prod_{i'=0}^{i-1} n_{i'}\,\mathrm{Var}[W^{i'}],\qquad "
        r"\mathrm{Var}\Big[\frac{\partial C}{\partial s^i}\Big] = \mathrm{Var}\Big[\frac{\partial C}{\partial s^d}"
        r"\Big]\prod_{i'=i}^{d} n_{i'+1}\,\mathrm{Var}[W^{i'}],",
    ),
    (
        "md",
        """so both shrink or grow geometrically unless n·Var[W] = 1 in both directions. The **standard** init
(Eq. 1) has n·Var[W] = 1/3, so the back-propagated variance shrinks about 3× per layer going down (Fig. 7) —
while the weight-gradient variance is the *same for every layer* (their Eq. 14), which is why the per-layer weight
gradients (Fig. 8–9) look level. Asking for n_i Var[W^i] = 1 forward and n_{i+1} Var[W^i] = 1 backward, and
compromising between the two, gives the **normalized** init (Eq. 16):""",
    ),
    (
        "tex",
        r"\mathrm{Var}[W^i] = \frac{2}{n_i + n_{i+1}},\qquad "
        r"W \sim U\Big[-\frac{\sqrt 6}{\sqrt{n_i + n_{i+1}}},\ \frac{\sqrt 6}{\sqrt{n_i + n_{i+1}}}\Big].",
    ),
    (
        "md",
        """It keeps the average singular value of each layer's Jacobian J^i = ∂z^{i+1}/∂z^i near 0.8
(standard: 0.5; Sec. 4.2.1, tanh). **Sigmoid:** the top hidden layer is driven to 0, where the sigmoid saturates,
almost at once (Fig. 2; the paper's explanation: early on the softmax learns more from its biases than from the
still uninformative top layer, whose outputs are best pushed to 0); a 4-layer net escapes around epoch 100, a
5-layer one never does. **Tanh** saturates layer after layer from the bottom, **softsign** gathers around its
knees ±(0.6–0.8) (Fig. 3–4).

**What is plotted.** Our engine's committed runs (`assets/glorot2010/`): statistics on 300 fixed probe images at
every checkpoint, histograms and Jacobians only at initialization and after the last update. The H100 file is
the same protocol with a larger budget, run once on a lent GPU (see `assets/glorot2010/README.md`). Solid lines: the
chosen initialization; dashed: the other one (toggle "compare"). **Magenta** crosses: a value that is not finite
(a diverged run); **black**: a variance that underflowed to 0.""",
    ),
)


# ----------------------------------------------------------------------------------------------------------------
# Numbers -> drawable arrays


def _finite_or_nan(values, log_axis: bool = False):
    """(values with non-finite — and, on a log axis, non-positive — entries as NaN, overflow mask, underflow
    mask)."""
    v = np.asarray(values, np.float64)
    over = ~np.isfinite(v)
    under = (v <= 0) & ~over if log_axis else np.zeros(v.shape, bool)
    return np.where(over | under, np.nan, v), over, under


class _Marks:
    """Collects crosses for non-finite (overflow, magenta) and zero-on-log-axis (underflow, black) points."""

    def __init__(self):
        self.x, self.y, self.color, self.n = [], [], [], 0

    def add(self, x, over, under, top: float, bottom: float):
        if not (np.any(over) or np.any(under)):
            return
        x = np.asarray(x, np.float64)
        for mask, y, color in ((over, top, OVERFLOW_COLOR), (under, bottom, UNDERFLOW_COLOR)):
            k = int(np.sum(mask))
            self.x.extend(x[mask].tolist())
            self.y.extend([y] * k)
            self.color.extend([color] * k)
            self.n += k

    def data(self) -> dict:
        return dict(x=np.asarray(self.x, np.float64), y=np.asarray(self.y, np.float64), color=list(self.color))


def _empty_lines() -> dict:
    return dict(xs=[], ys=[], color=[], layer=[])


def _lines(x, arrays, marks: _Marks, log_axis: bool, top: float, bottom: float) -> dict:
    """Multi-line data: one line per layer (column) of every array (rows = x), coloured by layer; non-finite values
    become gaps plus marks."""
    x = np.asarray(x, np.float64)
    xs, ys, color, layer = [], [], [], []
    for a in arrays:
        a = np.asarray(a, np.float64)
        for i in range(a.shape[1]):
            clean, over, under = _finite_or_nan(a[:, i], log_axis)
            marks.add(x, over, under, top, bottom)
            xs.append(x)
            ys.append(clean)
            color.append(LAYER_COLORS[i])
            layer.append(i + 1)
    return dict(xs=xs, ys=ys, color=color, layer=layer)


def _log_edges(arrays) -> tuple[float, float]:
    """(top, bottom) y for marks on a log axis: a decade beyond the finite positive values."""
    vals = np.concatenate([np.ravel(a) for a in arrays] or [np.zeros(0)])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return (float(vals.max()) * 10, float(vals.min()) / 10) if vals.size else (1.0, 1e-12)


def _fmt(v: float, spec: str = ".3g") -> str:
    return format(v, spec) if math.isfinite(v) else ("NaN" if math.isnan(v) else ("∞" if v > 0 else "−∞"))


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %" if math.isfinite(v) else "not finite"


def _bin_centers(edges: np.ndarray) -> np.ndarray:
    e = np.asarray(edges, np.float64)
    return 0.5 * (e[:-1] + e[1:])


def _standard_error(p: float, n: int) -> float:
    """Binomial standard error of an error rate p measured on n test images."""
    p = min(max(p, 0.0), 1.0) if math.isfinite(p) else 0.5
    return math.sqrt(p * (1 - p) / n)


def comparison_notes(result: g10.Glorot2010Result) -> list[str]:
    """Plain-words comparison of this run's test errors with Table 1, each sentence computed from the data."""
    cfg = result.config
    n = cfg.test_size
    errs = {(c.activation, c.init): c.run.test_error for c in result.combinations}
    paper = {k: v for k, v in g10.PAPER_TABLE1_SHAPESET.items() if k in errs}
    notes = [
        f"**Budget.** Each net here saw {cfg.updates:,} SGD updates of {cfg.batch_size} images "
        f"({cfg.updates * cfg.batch_size:,} images), far below the paper's, whose 4-layer sigmoid net "
        f"escapes saturation only around epoch 100. Our errors are therefore not comparable in level."
    ]
    se_chance = _standard_error(CHANCE, n)
    near = [paper_label(*k) for k, e in errs.items() if math.isfinite(e) and e >= CHANCE - SIGNIFICANT_SE * se_chance]
    learning = [paper_label(*k) for k, e in errs.items() if paper_label(*k) not in near]
    text = (
        f"**Chance** is {100 * CHANCE:.1f} % ({g10.N_CLASSES} balanced classes); on {n:,} test images one "
        f"standard error there is {100 * se_chance:.2f} points. "
    )
    if near:
        text += f"At or within {SIGNIFICANT_SE:g} standard errors of chance: {', '.join(near)}. "
    if learning:
        text += f"Clearly below chance: {', '.join(learning)}."
    else:
        text += "No net is clearly below chance."
    notes.append(text)

    sig = [k for k in errs if k[0] == "sigmoid"]
    rest = [k for k in errs if k[0] != "sigmoid"]
    if sig and rest:
        worst_sig = max(errs[k] for k in sig)
        best_rest = max(errs[k] for k in rest)
        if worst_sig >= best_rest:
            notes.append(
                f"**Matches:** the sigmoid is the worst activation ({_pct(worst_sig)}), as in Table 1 "
                f"({paper.get(('sigmoid', 'standard'), float('nan')):.2f} %)."
            )
        else:
            notes.append(
                f"**Does not match:** a {', '.join(paper_label(*k) for k in rest if errs[k] > worst_sig)} "
                f"net is worse than the sigmoid ({_pct(worst_sig)}), unlike Table 1."
            )
    for act in ("tanh", "softsign"):
        std, norm = (act, "standard"), (act, "glorot_uniform")
        if std not in errs or norm not in errs:
            continue
        diff = errs[std] - errs[norm]
        se = math.hypot(_standard_error(errs[std], n), _standard_error(errs[norm], n))
        paper_diff = paper[std] - paper[norm] if std in paper and norm in paper else float("nan")
        paper_text = f" (paper: {paper_diff:+.2f} points)" if math.isfinite(paper_diff) else ""
        name = act.capitalize()
        if diff > SIGNIFICANT_SE * se:
            notes.append(
                f"**Matches:** the normalized init lowers {name}'s error by {100 * diff:.2f} points, more "
                f"than {SIGNIFICANT_SE:g} standard errors ({100 * SIGNIFICANT_SE * se:.2f}){paper_text}."
            )
        elif diff > 0:
            notes.append(
                f"**Same direction, within noise:** the normalized init lowers {name}'s error by only "
                f"{100 * diff:.2f} points, less than {SIGNIFICANT_SE:g} standard errors "
                f"({100 * SIGNIFICANT_SE * se:.2f}){paper_text}."
            )
        else:
            notes.append(
                f"**Does not match:** the normalized init does not lower {name}'s error "
                f"({100 * -diff:+.2f} points){paper_text}."
            )
    keys = [k for k in paper if math.isfinite(errs[k])]
    if keys:
        ours = " < ".join(paper_label(*k) for k in sorted(keys, key=lambda k: errs[k]))
        theirs = " < ".join(paper_label(*k) for k in sorted(keys, key=lambda k: paper[k]))
        gaps = [100 * errs[k] - paper[k] for k in keys]
        verdict = "the same" if ours == theirs else "a different"
        notes.append(
            f"**Order** (lowest error first) — ours: {ours}; paper: {theirs} ({verdict} order). Our errors "
            f"are {min(gaps):.1f} to {max(gaps):.1f} points above Table 1's."
        )
    return notes


# ----------------------------------------------------------------------------------------------------------------
# Views chosen by the browser-side controls: functions of (result, state) -> {target: value} (a key (target, k):
# piece k of a text), evaluated for every setting of their browser-side dependencies (``Tables.of``). The page's
# own draw and the browser's CustomJS pick from the same tables.


def _run_of(result: g10.Glorot2010Result, s: dict, init: str | None = None):
    return result.get(s["activation"], s["init"] if init is None else init).run


def _layers(result: g10.Glorot2010Result) -> np.ndarray:
    return np.arange(1, result.config.depth + 1)


def _per_layer(x, array, prefix: str, marks: _Marks, log_axis: bool, top: float, bottom: float) -> dict:
    """Columns ``prefix1..prefixD`` of ``array`` (rows = x, columns = layers), non-finite as NaN + marks."""
    data = {}
    a = np.asarray(array, np.float64)
    for i in range(1, MAX_DEPTH + 1):
        if i <= a.shape[1]:
            clean, over, under = _finite_or_nan(a[:, i - 1], log_axis)
            marks.add(x, over, under, top, bottom)
            data[f"{prefix}{i}"] = clean
        else:
            data[f"{prefix}{i}"] = np.full(len(x), np.nan)
    return data


def _trajectory_highlight(result, s):
    run = _run_of(result, s)
    i = int(s["layer"]) - 1
    return {
        "traj_highlight": dict(
            x=run.checkpoint_updates.astype(np.float64),
            lo=_finite_or_nan(run.act_p2[:, i])[0],
            hi=_finite_or_nan(run.act_p98[:, i])[0],
            mean=_finite_or_nan(run.act_mean[:, i])[0],
        )
    }


def _checkpoint(result, s):
    """The checkpoint's vertical lines and its markers on every layer's curve."""
    run = _run_of(result, s)
    k = int(s["checkpoint"])
    upd = float(run.checkpoint_updates[k])
    depth = run.act_mean.shape[1]
    x, colors = np.full(depth, upd), list(LAYER_COLORS[:depth])
    return {
        "traj_span": upd,
        "bp_var_span": upd,
        "wg_var_span": upd,
        "curve_span": upd,
        "traj_checkpoint": dict(x=x, y=_finite_or_nan(run.act_mean[k])[0], color=colors),
        "bp_var_ckpt": dict(x=x, y=_finite_or_nan(run.backprop_var[k], True)[0], color=colors),
        "wg_var_ckpt": dict(x=x, y=_finite_or_nan(run.weight_grad_var[k], True)[0], color=colors),
    }


def _histograms(result, s, init: str, which: str) -> g10.Histograms:
    snap = getattr(_run_of(result, s, init), s["snapshot"])
    if which == "activations":
        return snap.activations
    return snap.backprop_gradients if s["grad_kind"] == "backprop" else snap.weight_gradients


def _histogram_pair(which: str, key: str):
    """The view of one histogram figure (sources ``key``, ``key_cmp``, ``key_marks``): the chosen init, one column
    per layer; the other init dashed when compared; the marks of both."""

    def view(result, s):
        marks = _Marks()
        h = _histograms(result, s, s["init"], which)
        x = _bin_centers(h.edges)
        # fractions lie in [0, 1]: non-finite marks go just above
        out = {key: {"x": x, **_per_layer(x, np.asarray(h.fraction).T, "l", marks, False, 1.02, 0.0)}}
        if s["compare"]:
            h = _histograms(result, s, other_init(s["init"]), which)
            out[f"{key}_cmp"] = _lines(_bin_centers(h.edges), [np.asarray(h.fraction).T], marks, False, 1.02, 0.0)
        else:
            out[f"{key}_cmp"] = _empty_lines()
        out[f"{key}_marks"] = marks.data()
        out[f"#{key}"] = marks.n  # "#": a count of marks, not drawn (it makes the overflow notice)
        return out

    return view


def _histogram_highlights(result, s):
    i = int(s["layer"]) - 1
    out = {}
    for which, key in (("activations", "act_hist_hl"), ("gradients", "grad_hist_hl")):
        h = _histograms(result, s, s["init"], which)
        out[key] = dict(x=_bin_centers(h.edges), y=_finite_or_nan(np.asarray(h.fraction)[i])[0])
    return out


def _variances(result, s):
    out = {}
    for attr, key in (("backprop_var", "bp_var"), ("weight_grad_var", "wg_var")):
        runs = [
            (_run_of(result, s), key, True),
            (_run_of(result, s, other_init(s["init"])), f"{key}_cmp", bool(s["compare"])),
        ]
        top, bottom = _log_edges([getattr(r, attr) for r, _, _ in runs])
        marks = _Marks()
        for run, name, show in runs:
            if not show:
                out[name] = _empty_lines()
                continue
            x = run.checkpoint_updates.astype(np.float64)
            if name == key:
                out[name] = {"x": x, **_per_layer(x, getattr(run, attr), "v", marks, True, top, bottom)}
            else:
                out[name] = _lines(x, [getattr(run, attr)], marks, True, top, bottom)
        out[f"{key}_marks"] = marks.data()
        out[f"#{key}"] = marks.n
    return out


def _variance_highlights(result, s):
    run = _run_of(result, s)
    i = int(s["layer"]) - 1
    x = run.checkpoint_updates.astype(np.float64)
    return {
        "bp_var_hl": dict(x=x, y=_finite_or_nan(run.backprop_var[:, i], True)[0]),
        "wg_var_hl": dict(x=x, y=_finite_or_nan(run.weight_grad_var[:, i], True)[0]),
    }


def _profile(result, s):
    k = int(s["checkpoint"])
    layers = _layers(result).astype(np.float64)
    runs = {init: _run_of(result, s, init) for init in g10.INITS}
    arrays = {f"bp_{i}": r.backprop_var[k] for i, r in runs.items()}
    arrays.update({f"wg_{i}": r.weight_grad_var[k] for i, r in runs.items()})
    top, bottom = _log_edges(arrays.values())
    marks = _Marks()
    data = {"layer": layers}
    for name, values in arrays.items():
        clean, over, under = _finite_or_nan(values, True)
        marks.add(layers, over, under, top, bottom)
        data[name] = clean
    return {"profile_source": data, "profile_marks": marks.data(), "#profile": marks.n}


def _profile_highlight(result, s):
    run = _run_of(result, s)
    k, i = int(s["checkpoint"]), int(s["layer"]) - 1
    y = np.array([run.backprop_var[k, i], run.weight_grad_var[k, i]], np.float64)
    return {"profile_hl": dict(layer=np.full(2, float(i + 1)), y=_finite_or_nan(y, True)[0])}


def _jacobian_highlight(result, s):
    run = _run_of(result, s)
    i = int(s["layer"]) - 1
    y = np.array([run.initial.jacobian_sv_mean[i], run.final.jacobian_sv_mean[i]], np.float64)
    return {"jac_hl": dict(layer=np.full(2, float(i + 1)), y=_finite_or_nan(y)[0])}


def _titles(result, s):
    """The titles that name a browser-side choice (the others: ``GlorotPage._draw_titles``)."""
    combo = paper_label(s["activation"], s["init"])
    snap = "at initialization" if s["snapshot"] == "initial" else f"after {result.config.updates} updates"
    kind = "∂C/∂s (back-propagated)" if s["grad_kind"] == "backprop" else "∂C/∂W (weights)"
    updates = int(_run_of(result, s).checkpoint_updates[int(s["checkpoint"])])
    return {
        "act_hist_title": f"{combo}: activation histograms {snap}",
        "grad_hist_title": f"{combo}: {kind} {snap}",
        "profile_title": f"{s['activation'].capitalize()}: gradient variance per layer after {updates} updates",
    }


# The readout: one paragraph (HTML) in five pieces, so that the browser's table holds each piece once per setting
# of what it depends on: 0 and 4 the combination, 1 and 3 the checkpoint, 2 the layer at the checkpoint.


def _readout_combination(result, s):
    run = _run_of(result, s)
    bp0 = np.asarray(run.backprop_var[0], np.float64)
    shrink = []
    for layer in range(len(bp0) - 1, 0, -1):
        ratio = bp0[layer] / bp0[layer - 1] if bp0[layer - 1] != 0 else float("nan")
        shrink.append(_fmt(ratio, ".2g"))
    status = " <strong>This run diverged (not finite).</strong>" if run.diverged else ""
    return {
        ("readout", 0): f"<strong>{paper_label(s['activation'], s['init'])}, {LABELS_BY_KEY[s['run']]}:</strong> "
        f"learning rate {run.learning_rate:g}, test error {_pct(run.test_error)}.{status} ",
        ("readout", 4): f"At initialization, going down from layer {len(bp0)} to 1, Var[∂C/∂s] shrinks by a "
        f"factor {', '.join(shrink)} per layer (below 1: it grows; the paper, tanh with the "
        f"standard init: about 3).",
    }


def _readout_checkpoint(result, s):
    run = _run_of(result, s)
    k = int(s["checkpoint"])
    upd = int(run.checkpoint_updates[k])
    return {
        ("readout", 1): f"<strong>After {upd:,} updates</strong> (checkpoint {k} of "
        f"{len(run.checkpoint_updates) - 1}; {upd * result.config.batch_size:,} images), ",
        ("readout", 3): f"probe error {_pct(float(run.probe_error[k]))}. ",
    }


def _readout_layer(result, s):
    run = _run_of(result, s)
    k, i = int(s["checkpoint"]), int(s["layer"]) - 1
    return {
        ("readout", 2): f"layer {i + 1}: mean activation {_fmt(float(run.act_mean[k, i]))}, 2nd–98th "
        f"percentiles [{_fmt(float(run.act_p2[k, i]))}, {_fmt(float(run.act_p98[k, i]))}], "
        f"{_fmt(100 * float(run.act_saturated[k, i]), '.3g')} % of units saturated; "
        f"Var[∂C/∂s] = {_fmt(float(run.backprop_var[k, i]))}, Var[∂C/∂W] = "
        f"{_fmt(float(run.weight_grad_var[k, i]))}; "
    }


#: every view of a browser-side choice, with the browser-side controls it depends on.
BROWSER_VIEWS = (
    (_trajectory_highlight, ["layer"]),
    (_checkpoint, ["checkpoint"]),
    (_histogram_pair("activations", "act_hist"), ["snapshot", "compare"]),
    (_histogram_pair("gradients", "grad_hist"), ["snapshot", "grad_kind", "compare"]),
    (_histogram_highlights, ["snapshot", "grad_kind", "layer"]),
    (_variances, ["compare"]),
    (_variance_highlights, ["layer"]),
    (_profile, ["checkpoint"]),
    (_profile_highlight, ["layer", "checkpoint"]),
    (_jacobian_highlight, ["layer"]),
    (_titles, ["snapshot", "grad_kind", "checkpoint"]),
    (_readout_combination, []),
    (_readout_checkpoint, ["checkpoint"]),
    (_readout_layer, ["layer", "checkpoint"]),
)


def control_domains(result: g10.Glorot2010Result) -> dict[str, list]:
    """Every value of every control for a run (the checkpoints and layers are the run's)."""
    return {
        "run": list(RUNS.values()),
        "activation": list(GlorotModel.param.activation.objects),
        "init": list(GlorotModel.param.init.objects),
        "layer": list(range(1, result.config.depth + 1)),
        "checkpoint": list(range(len(result.combinations[0].run.checkpoint_updates))),
        "snapshot": list(GlorotModel.param.snapshot.objects),
        "grad_kind": list(GlorotModel.param.grad_kind.objects),
        "compare": [False, True],
    }


def browser_tables(result: g10.Glorot2010Result, run: str, activation: str, init: str) -> tuple[Tables, Tables]:
    """(the drawn tables, the tables of mark counts) of one combination: every value of ``BROWSER_VIEWS``."""
    views = [(functools.partial(fn, result), deps) for fn, deps in BROWSER_VIEWS]
    tables = Tables.of(views, dict(run=run, activation=activation, init=init), control_domains(result))
    drawn = Tables({k: v for k, v in tables.parts.items() if not k.startswith("#")}, tables.domains)
    counts = Tables({k: v for k, v in tables.parts.items() if k.startswith("#")}, tables.domains)
    return drawn, counts


@functools.cache
def committed_tables(run: str, activation: str, init: str) -> tuple[Tables, Tables]:
    """``browser_tables`` of a committed run: computed once per process, shared by every session."""
    return browser_tables(load_result(run), run, activation, init)


def overflow_text(n: int) -> str:
    return (
        f"⚠ {n} plotted values of this selection are not finite (a diverged run) or underflowed to 0: drawn as "
        f"crosses (magenta: inf/NaN, black: 0)."
        if n
        else ""
    )


# ----------------------------------------------------------------------------------------------------------------
# The page


class GlorotPage(Page):
    """The views of ``GlorotModel``: created once per session, then updated in place."""

    Model = GlorotModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {"_on_change": URL_PARAMS}
    title = "Glorot & Bengio 2010"

    def __init__(
        self,
        model: GlorotModel | None = None,
        query: dict[str, str] | None = None,
        results: dict[str, g10.Glorot2010Result] | None = None,
    ):
        """``results``: run key -> result, replacing the committed file's (tests use it to feed a diverged run); it
        must have that file's depth and checkpoints, which set the controls' bounds. The rest as for ``Page``."""
        self._results = dict(results or {})
        super().__init__(model, query)

    def apply_query(self, query) -> list[str]:
        # the run first: the checkpoint's bounds depend on it
        return apply_query(self.model, URL_PARAMS[:1], query) + apply_query(self.model, URL_PARAMS[1:], query)

    def setup(self):
        """Every view is drawn from the committed runs; the view controls redraw in the browser (``BrowserViews``)."""
        self.overflow_notice = browser_only(pn.pane.Alert)("", alert_type="danger", visible=False, margin=(0, 5))
        self._marks: dict[str, int] = {}
        self._build_figures()
        self._widgets = self._make_widgets()
        self.browser = BrowserViews(
            [Control(name, self._widgets[name], server=name in SERVER_PARAMS) for name in URL_PARAMS],
            self._browser_targets(),
            DOWNLOAD_SELECTOR,
        )
        self._tables: list[Tables] = []
        self._tables_of: tuple | None = None  # what the tables are of: (combination, the server's marks)
        self._refresh(set(URL_PARAMS))
        self._watch(self.browser.on_state(self._apply_browser_state), ["value"], obj=self.browser.carrier)

    # ------------------------------------------------------------------------------------------------ data access
    def result(self, run: str | None = None) -> g10.Glorot2010Result:
        run = self.model.run if run is None else run
        return self._results[run] if run in self._results else load_result(run)

    def combo(self, init: str | None = None, activation: str | None = None, run: str | None = None):
        m = self.model
        return self.result(run).get(
            m.activation if activation is None else activation, m.init if init is None else init
        )

    def checkpoint_updates(self) -> int:
        return int(self.combo().run.checkpoint_updates[int(self.model.checkpoint)])

    # ------------------------------------------------------------------------------------------------ figures
    def _fig(self, title, x_label, y_label, **kw):
        return figure(
            title=title,
            x_axis_label=x_label,
            y_axis_label=y_label,
            height=FIG_HEIGHT,
            width=520,
            tools=TOOLS,
            toolbar_location="above",
            **kw,
        )

    @staticmethod
    def _layer_lines(fig, source, init: str, columns: tuple[str, str], size: int, labels: tuple[str, str]) -> list:
        """Two per-layer curves of one initialization in its colour: ``columns[0]`` solid with dots, ``columns[1]``
        dashed with squares. Returns the two line renderers (for the hover tool)."""
        color, lines = INIT_COLORS[init], []
        for column, label, dash, marker in zip(columns, labels, ("solid", "dashed"), ("circle", "square")):
            lines.append(
                fig.line("layer", column, source=source, color=color, line_width=2, line_dash=dash, legend_label=label)
            )
            fig.scatter("layer", column, source=source, color=color, size=size, marker=marker)
        return lines

    @staticmethod
    def _chosen_marker(fig, source) -> None:
        """The open black circle on the chosen layer and initialization."""
        fig.scatter(
            "layer",
            "y",
            source=source,
            size=14,
            fill_alpha=0,
            line_color="black",
            line_width=2,
            legend_label="chosen layer and init",
        )

    @staticmethod
    def _marks_renderer(fig, source):
        """Crosses for non-finite values (magenta) and zeros on a log axis (black); explained in the notice."""
        fig.scatter("x", "y", source=source, marker="x", size=10, line_width=2, color="color")

    @staticmethod
    def _finish_legend(fig, ncols: int = 4):
        """The legend below the plot (it never hides data), clickable to hide a series."""
        legend = fig.legend[0]
        fig.center = [r for r in fig.center if r is not legend]
        legend.update(
            click_policy="hide",
            label_text_font_size="8pt",
            spacing=0,
            padding=2,
            margin=2,
            ncols=ncols,
            glyph_height=12,
            label_height=12,
            border_line_alpha=0,
        )
        fig.add_layout(legend, "below")

    def _layer_columns(self, prefix: str) -> dict:
        return {f"{prefix}{i}": np.zeros(0) for i in range(1, MAX_DEPTH + 1)}

    def _build_figures(self):
        D = MAX_DEPTH
        # (a) activation trajectories (Fig. 2-3)
        self.traj_source = ColumnDataSource(data={"x": np.zeros(0), **self._layer_columns("mean")})
        # percentiles of every layer as one multi-line (xs, ys, color): 2 x depth lines
        self.traj_pct = ColumnDataSource(data=_empty_lines())
        self.traj_highlight = ColumnDataSource(
            data=dict(x=np.zeros(0), lo=np.zeros(0), hi=np.zeros(0), mean=np.zeros(0))
        )
        self.traj_checkpoint = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0), color=[]))
        self.traj_marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig("Activations during training", "updates", "activation value")
        fig.varea(
            "x",
            "lo",
            "hi",
            source=self.traj_highlight,
            fill_color="#888888",
            fill_alpha=0.18,
            legend_label="chosen layer: 2nd–98th percentile",
        )
        mean_renderers = []
        for i in range(1, D + 1):
            c = LAYER_COLORS[i - 1]
            mean_renderers.append(
                fig.line("x", f"mean{i}", source=self.traj_source, color=c, line_width=1.6, legend_label=f"layer {i}")
            )
        fig.multi_line(
            "xs",
            "ys",
            source=self.traj_pct,
            color="color",
            line_dash="dashed",
            line_width=1,
            legend_label="2nd and 98th percentiles",
        )
        fig.line(
            "x",
            "mean",
            source=self.traj_highlight,
            color="black",
            line_width=3,
            line_alpha=0.6,
            legend_label="chosen layer: mean",
        )
        fig.scatter("x", "y", source=self.traj_checkpoint, size=8, color="color", line_color="black")
        self._marks_renderer(fig, self.traj_marks)
        fig.add_tools(
            HoverTool(
                renderers=mean_renderers,
                mode="vline",
                tooltips=[("updates", "@x")] + [(f"mean layer {i}", f"@mean{i}{{0.000}}") for i in range(1, D + 1)],
            )
        )
        self.traj_span = Span(location=0, dimension="height", line_color="#555555", line_dash="dashed")
        fig.add_layout(self.traj_span)
        self._finish_legend(fig)
        self.traj_figure = fig

        # (b), (c) histograms (Fig. 4, 6, 7, 8)
        self.act_hist, self.act_hist_cmp, self.act_hist_hl, self.act_hist_marks, self.act_hist_figure = (
            self._histogram_figure("Activation histograms", "activation value")
        )
        self.grad_hist, self.grad_hist_cmp, self.grad_hist_hl, self.grad_hist_marks, self.grad_hist_figure = (
            self._histogram_figure("Gradient histograms", "gradient value")
        )

        # (d) variance during training (Fig. 9), log axis
        (
            self.bp_var,
            self.bp_var_cmp,
            self.bp_var_hl,
            self.bp_var_ckpt,
            self.bp_var_marks,
            self.bp_var_figure,
            self.bp_var_span,
        ) = self._variance_figure("Var[∂C/∂s] during training", "Var[∂C/∂s]")
        (
            self.wg_var,
            self.wg_var_cmp,
            self.wg_var_hl,
            self.wg_var_ckpt,
            self.wg_var_marks,
            self.wg_var_figure,
            self.wg_var_span,
        ) = self._variance_figure("Var[∂C/∂W] during training", "Var[∂C/∂W]")

        # (g) gradient variance per layer at the checkpoint (Fig. 7's shrinkage, Eq. 14's level weight gradients)
        cols = ["bp_standard", "bp_glorot_uniform", "wg_standard", "wg_glorot_uniform"]
        self.profile_source = ColumnDataSource(data={"layer": np.zeros(0), **{c: np.zeros(0) for c in cols}})
        self.profile_hl = ColumnDataSource(data=dict(layer=np.zeros(0), y=np.zeros(0)))
        self.profile_marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig("Gradient variance per layer", "layer (1 = input side)", "variance", y_axis_type="log")
        renderers = []
        for init in g10.INITS:
            renderers += self._layer_lines(
                fig,
                self.profile_source,
                init,
                (f"bp_{init}", f"wg_{init}"),
                5,
                (f"Var[∂C/∂s], {INIT_LABELS[init]}", f"Var[∂C/∂W], {INIT_LABELS[init]}"),
            )
        self._chosen_marker(fig, self.profile_hl)
        self._marks_renderer(fig, self.profile_marks)
        fig.add_tools(
            HoverTool(renderers=renderers, tooltips=[("layer", "@layer")] + [(c, f"@{c}{{0.000e}}") for c in cols])
        )
        fig.xaxis.ticker = list(range(1, D + 1))
        self._finish_legend(fig, ncols=3)
        self.profile_figure = fig

        # (e) Jacobian singular values (Sec. 4.2.1)
        jcols = [f"{init}_{when}" for init in g10.INITS for when in ("initial", "final")]
        self.jac_source = ColumnDataSource(data={"layer": np.zeros(0), **{c: np.zeros(0) for c in jcols}})
        self.jac_hl = ColumnDataSource(data=dict(layer=np.zeros(0), y=np.zeros(0)))
        self.jac_marks = ColumnDataSource(data=_Marks().data())
        self.jac_range = Range1d(0.0, 1.0)  # set per activation to show the paper's 0.5 and 0.8 lines
        fig = self._fig(
            "Mean singular value of each layer's Jacobian",
            "layer (1 = input side)",
            "mean singular value",
            y_range=self.jac_range,
        )
        renderers = []
        for init in g10.INITS:
            renderers += self._layer_lines(
                fig,
                self.jac_source,
                init,
                (f"{init}_initial", f"{init}_final"),
                6,
                (f"{INIT_LABELS[init]}, at initialization", f"{INIT_LABELS[init]}, after training"),
            )
            fig.hspan(
                y=[PAPER_JACOBIAN_SV[init]],
                line_color=INIT_COLORS[init],
                line_dash="dotted",
                line_width=1.5,
                legend_label=f"paper, tanh: ≈{PAPER_JACOBIAN_SV[init]} {INIT_LABELS[init]}",
            )
        self._chosen_marker(fig, self.jac_hl)
        self._marks_renderer(fig, self.jac_marks)
        fig.add_tools(
            HoverTool(renderers=renderers, tooltips=[("layer", "@layer")] + [(c, f"@{c}{{0.000}}") for c in jcols])
        )
        fig.xaxis.ticker = list(range(1, D + 1))
        self._finish_legend(fig, ncols=2)
        self.jac_figure = fig

        # (h) error on the probe set during training (Fig. 10)
        combos = [(a, i) for a in g10.ACTIVATIONS for i in g10.INITS]
        self.curve_source = ColumnDataSource(data={"x": np.zeros(0), **{f"{a}_{i}": np.zeros(0) for a, i in combos}})
        self.curve_hl = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))
        self.curve_marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig("Error on the 300 probe images during training (Fig. 10)", "updates", "error (%)")
        renderers = []
        for a, i in combos:
            renderers.append(
                fig.line(
                    "x",
                    f"{a}_{i}",
                    source=self.curve_source,
                    color=ACTIVATION_COLORS[a],
                    line_width=1.8,
                    line_dash="solid" if i == "standard" else "dashed",
                    legend_label=paper_label(a, i),
                )
            )
        fig.line(
            "x",
            "y",
            source=self.curve_hl,
            color="black",
            line_width=4,
            line_alpha=0.35,
            legend_label="chosen combination",
        )
        fig.hspan(
            y=[100 * CHANCE],
            line_color="#777777",
            line_dash="dotted",
            line_width=1.5,
            legend_label=f"chance ({100 * CHANCE:.1f} %)",
        )
        self.curve_span = Span(location=0, dimension="height", line_color="#555555", line_dash="dashed")
        fig.add_layout(self.curve_span)
        self._marks_renderer(fig, self.curve_marks)
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                mode="vline",
                tooltips=[("updates", "@x")] + [(paper_label(a, i), f"@{{{a}_{i}}}{{0.0}} %") for a, i in combos],
            )
        )
        self._finish_legend(fig)
        self.curve_figure = fig

        # (f) test error vs Table 1
        labels = [paper_label(a, i) for a, i in combos]
        self._bar_series = [f"run:{key}" for key in RUNS.values()] + ["paper"]
        self.bar_sources = {
            s: ColumnDataSource(
                data=dict(
                    x=labels,
                    top=np.zeros(len(labels)),
                    alpha=np.ones(len(labels)),
                    line_width=np.zeros(len(labels)),
                    text=[""] * len(labels),
                    y_text=np.zeros(len(labels)),
                )
            )
            for s in self._bar_series
        }
        fig = self._fig(
            "Test error: our runs beside the paper's Table 1 (Shapeset-3x2)",
            "",
            "test error (%)",
            x_range=FactorRange(*labels),
        )
        width = 0.8 / len(self._bar_series)
        palette = ["#6baed6", "#08519c", "#fdae6b", "#74c476"]
        for k, s in enumerate(self._bar_series):
            offset = (k - (len(self._bar_series) - 1) / 2) * width
            label = "paper, Table 1" if s == "paper" else "ours: " + LABELS_BY_KEY[s.split(":", 1)[1]]
            color = palette[-2] if s == "paper" else palette[k % 2]
            fig.vbar(
                x=dodge("x", offset, range=fig.x_range),
                top="top",
                width=width * 0.92,
                source=self.bar_sources[s],
                fill_color=color,
                fill_alpha="alpha",
                line_color="black",
                line_width="line_width",
                legend_label=label,
            )
            fig.add_layout(
                LabelSet(
                    x=dodge("x", offset, range=fig.x_range),
                    y="y_text",
                    text="text",
                    source=self.bar_sources[s],
                    text_font_size="7pt",
                    text_align="left",
                    text_baseline="middle",
                    angle=math.pi / 2,
                )
            )
        fig.hspan(
            y=[100 * CHANCE],
            line_color="#777777",
            line_dash="dotted",
            line_width=1.5,
            legend_label=f"chance ({100 * CHANCE:.1f} %)",
        )
        fig.y_range.start = 0
        fig.y_range.end = 125
        fig.x_range.range_padding = 0.05
        fig.xgrid.grid_line_color = None
        self._finish_legend(fig, ncols=1)  # long labels: Bokeh sizes legend columns by their first row
        self.bar_figure = fig

        self._cmp_legend_items = [
            item
            for fig in (self.act_hist_figure, self.grad_hist_figure, self.bp_var_figure, self.wg_var_figure)
            for item in fig.legend[0].items
            if item.label == value(CMP_LABEL)
        ]
        self.readout = browser_only(pn.pane.HTML)("", margin=(0, 5), width=1060)
        self.table_text = pn.pane.Markdown("", disable_math=True, margin=(0, 10), width=520)

    def _histogram_figure(self, title, x_label):
        main = ColumnDataSource(data={"x": np.zeros(0), **self._layer_columns("l")})
        cmp = ColumnDataSource(data=_empty_lines())  # the other init, one dashed line per layer
        hl = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))
        marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig(title, x_label, "fraction of values per bin")
        renderers = []
        for i in range(1, MAX_DEPTH + 1):
            c = LAYER_COLORS[i - 1]
            renderers.append(fig.line("x", f"l{i}", source=main, color=c, line_width=1.8, legend_label=f"layer {i}"))
        fig.multi_line(
            "xs",
            "ys",
            source=cmp,
            color="color",
            line_width=1.2,
            line_dash="dashed",
            line_alpha=0.8,
            legend_label=CMP_LABEL,
        )
        fig.line("x", "y", source=hl, color="black", line_width=4, line_alpha=0.3, legend_label="chosen layer")
        self._marks_renderer(fig, marks)
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                mode="vline",
                tooltips=[("value", "@x{0.000e}")]
                + [(f"layer {i}", f"@l{i}{{0.0000}}") for i in range(1, MAX_DEPTH + 1)],
            )
        )
        self._finish_legend(fig)
        return main, cmp, hl, marks, fig

    def _variance_figure(self, title, y_label):
        main = ColumnDataSource(data={"x": np.zeros(0), **self._layer_columns("v")})
        cmp = ColumnDataSource(data=_empty_lines())  # the other init, one dashed line per layer
        hl = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))
        ckpt = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0), color=[]))
        marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig(title, "updates", y_label, y_axis_type="log")
        renderers = []
        for i in range(1, MAX_DEPTH + 1):
            c = LAYER_COLORS[i - 1]
            renderers.append(fig.line("x", f"v{i}", source=main, color=c, line_width=1.8, legend_label=f"layer {i}"))
        fig.multi_line(
            "xs",
            "ys",
            source=cmp,
            color="color",
            line_width=1.2,
            line_dash="dashed",
            line_alpha=0.8,
            legend_label=CMP_LABEL,
        )
        fig.line("x", "y", source=hl, color="black", line_width=4, line_alpha=0.3, legend_label="chosen layer")
        fig.scatter("x", "y", source=ckpt, size=8, color="color", line_color="black")
        self._marks_renderer(fig, marks)
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                mode="vline",
                tooltips=[("updates", "@x")] + [(f"layer {i}", f"@v{i}{{0.000e}}") for i in range(1, MAX_DEPTH + 1)],
            )
        )
        span = Span(location=0, dimension="height", line_color="#555555", line_dash="dashed")
        fig.add_layout(span)
        self._finish_legend(fig)
        return main, cmp, hl, ckpt, marks, fig, span

    # ------------------------------------------------------------------------------------------------ updates
    #: drawer -> the controls it depends on: the views of the combination, drawn by the server. The views of the
    #: browser-side controls are ``BROWSER_VIEWS``, drawn from their tables (``BrowserViews.draw``, and in the
    #: browser).
    DRAWERS = (
        ("_draw_trajectories", {"run", "activation", "init"}),
        ("_draw_jacobian", {"run", "activation"}),
        ("_draw_error_curves", {"run"}),
        ("_draw_error_highlight", {"run", "activation", "init"}),
        ("_draw_bars", {"run", "activation", "init"}),
        ("_draw_table", {"run", "activation", "init"}),
        ("_draw_titles", {"run", "activation", "init"}),
    )

    def _on_change(self, *events):
        self._refresh({e.name for e in events})

    def _apply_browser_state(self, state: dict) -> None:
        """The browser's state of every control, sent with a move of a server-side control (or before a
        download): the model takes it, and the views that depend on what changed are redrawn."""
        values = {k: v for k, v in state.items() if k in URL_PARAMS and v != getattr(self.model, k)}
        if not values:
            return
        try:
            # one message back: the redraw and the address of the new state (the URL mirror) arrive together,
            # before the browser re-applies any move made meanwhile
            with document_hold(self._doc):
                self.model.param.update(**values)
        except (ValueError, TypeError) as exc:  # not a value of the control: the browser sent something else
            log.warning("Glorot & Bengio page: ignored the browser's state %r: %s", values, exc)

    def _state(self) -> dict:
        return {name: getattr(self.model, name) for name in URL_PARAMS}

    def _refresh(self, changed: set[str]):
        @without_property_validation  # the page builds every value itself; validation was half of a move's time
        def work():
            with document_hold(self._doc):
                for name, deps in self.DRAWERS:
                    if deps & changed:
                        getattr(self, name)()
                combination = (self.model.run, self.model.activation, self.model.init)
                # the tables of the combination, and the overflow notice's (which counts the server's marks too)
                key = (combination, sum(self._marks.values()))
                new_tables = key != self._tables_of
                if new_tables:  # sent to the browser
                    drawn, counts = self._browser_tables(*combination)
                    self._tables = [drawn, self._overflow_tables(counts)]
                    self._tables_of = key
                    self.browser.set_tables(self._tables)
                self.browser.draw(self._state(), None if new_tables else changed)
                self.browser.redrawn()
            self.notices.clear("setting", "failure")

        self._guard(work)

    def _browser_tables(self, run: str, activation: str, init: str) -> tuple[Tables, Tables]:
        if run in self._results:
            return browser_tables(self._results[run], run, activation, init)
        return committed_tables(run, activation, init)

    def _overflow_tables(self, counts: Tables) -> Tables:
        """The overflow notice (text and visibility) for every setting of the controls its counts depend on: the
        marks of the browser-side views (``counts``) plus those of the server's (``self._marks``)."""
        deps = [name for name in BROWSER_PARAMS if any(name in counts.deps(k) for k in counts.parts)]
        fixed = sum(self._marks.values())

        def notice(s):
            n = fixed + sum(counts.value(k, s) for k in counts.parts)
            return {"overflow_notice": overflow_text(n), "overflow_visible": bool(n)}

        return Tables.of([(notice, deps)], {}, counts.domains)

    def _browser_targets(self) -> dict:
        """What the tables set: target name -> (object, attribute)."""
        sources = [
            "traj_highlight",
            "traj_checkpoint",
            "bp_var_ckpt",
            "wg_var_ckpt",
            "act_hist",
            "act_hist_cmp",
            "act_hist_marks",
            "grad_hist",
            "grad_hist_cmp",
            "grad_hist_marks",
            "act_hist_hl",
            "grad_hist_hl",
            "bp_var",
            "bp_var_cmp",
            "bp_var_marks",
            "wg_var",
            "wg_var_cmp",
            "wg_var_marks",
            "bp_var_hl",
            "wg_var_hl",
            "profile_source",
            "profile_marks",
            "profile_hl",
            "jac_hl",
        ]
        targets = {name: (getattr(self, name), "data") for name in sources}
        targets.update(
            {
                name: (getattr(self, name), "location")
                for name in ("traj_span", "bp_var_span", "wg_var_span", "curve_span")
            }
        )
        targets.update(
            {
                "act_hist_title": (self.act_hist_figure.title, "text"),
                "grad_hist_title": (self.grad_hist_figure.title, "text"),
                "profile_title": (self.profile_figure.title, "text"),
                "readout": (self.readout, "object"),
                "overflow_notice": (self.overflow_notice, "object"),
                "overflow_visible": (self.overflow_notice, "visible"),
            }
        )
        return targets

    def _draw_trajectories(self):
        run = self.combo().run
        x = run.checkpoint_updates.astype(np.float64)
        marks = _Marks()
        data = {"x": x}
        # activations of sigmoid, tanh and softsign lie in [-1, 1]: non-finite marks go just above.
        data.update(_per_layer(x, run.act_mean, "mean", marks, False, 1.1, -1.1))
        self.traj_source.data = data
        self.traj_pct.data = _lines(x, [run.act_p98, run.act_p2], marks, False, 1.1, -1.1)
        self.traj_marks.data = marks.data()
        self._marks["trajectories"] = marks.n

    def _draw_jacobian(self):
        layers = _layers(self.result()).astype(np.float64)
        marks = _Marks()
        data = {"layer": layers}
        for init in g10.INITS:
            run = self.combo(init).run
            for when in ("initial", "final"):
                clean, over, under = _finite_or_nan(getattr(run, when).jacobian_sv_mean)
                # a mean singular value is >= 0; non-finite marks go at the top of the plotted values
                marks.add(layers, over, under, 1.0, 0.0)
                data[f"{init}_{when}"] = clean
        self.jac_source.data = data
        finite = np.concatenate([v[np.isfinite(v)] for k, v in data.items() if k != "layer"])
        top = max([*PAPER_JACOBIAN_SV.values(), *(finite.tolist() or [0.0])])
        self.jac_range.update(start=0.0, end=round(1.1 * top, 2))
        self.jac_marks.data = marks.data()
        self._marks["jacobian"] = marks.n

    def _draw_error_curves(self):
        result = self.result()
        x = result.combinations[0].run.checkpoint_updates.astype(np.float64)
        marks = _Marks()
        data = {"x": x}
        for a in g10.ACTIVATIONS:
            for i in g10.INITS:
                try:
                    err = 100 * np.asarray(result.get(a, i).run.probe_error, np.float64)
                except ConfigError:  # a run without this combination
                    err = np.full(len(x), np.nan)
                clean, over, under = _finite_or_nan(err)
                marks.add(x, over, under, 100.0, 0.0)
                data[f"{a}_{i}"] = clean
        self.curve_source.data = data
        self.curve_marks.data = marks.data()
        self._marks["error_curves"] = marks.n

    def _draw_error_highlight(self):
        run = self.combo().run
        self.curve_hl.data = dict(
            x=run.checkpoint_updates.astype(np.float64),
            y=_finite_or_nan(100 * np.asarray(run.probe_error, np.float64))[0],
        )

    def _bar_values(self, series: str) -> np.ndarray:
        """Test error (%) of every (activation, init) for one bar series, NaN where there is none."""
        out = []
        for a in g10.ACTIVATIONS:
            for i in g10.INITS:
                if series == "paper":
                    v = g10.PAPER_TABLE1_SHAPESET.get((a, i))
                    out.append(float("nan") if v is None else float(v))
                    continue
                try:
                    c = self.result(series.split(":", 1)[1]).get(a, i)
                    out.append(100 * c.run.test_error)
                except ConfigError:
                    out.append(float("nan"))
        return np.asarray(out, np.float64)

    def _draw_bars(self):
        chosen = paper_label(self.model.activation, self.model.init)
        labels = [paper_label(a, i) for a in g10.ACTIVATIONS for i in g10.INITS]
        for s in self._bar_series:
            values = self._bar_values(s)
            finite = np.isfinite(values)
            shown = s == "paper" or s == f"run:{self.model.run}"
            self.bar_sources[s].data = dict(
                x=labels,
                top=np.where(finite, values, np.nan),
                alpha=np.full(len(labels), 0.95 if shown else 0.3),
                line_width=np.array([2.0 if lab == chosen else 0.0 for lab in labels]),
                text=[f"{v:.1f}" if f else ("not in Table 1" if s == "paper" else "—") for v, f in zip(values, finite)],
                y_text=np.where(finite, values, 0.0) + 1.0,
            )

    def _draw_table(self):
        runs = list(RUNS.values())
        head = "| | " + " | ".join(f"ours: {LABELS_BY_KEY[r]}" for r in runs) + " | paper, Table 1 |"
        rows = [head, "|---" * (len(runs) + 2) + "|"]
        chosen = (self.model.activation, self.model.init)
        for a in g10.ACTIVATIONS:
            for i in g10.INITS:
                cells = []
                for r in runs:
                    try:
                        run = self.result(r).get(a, i).run
                    except ConfigError:
                        cells.append("—")
                        continue
                    value = "diverged" if run.diverged else _pct(run.test_error)
                    cell = f"{value} (lr {run.learning_rate:g})"
                    cells.append(f"**{cell}**" if r == self.model.run else cell)
                paper = g10.PAPER_TABLE1_SHAPESET.get((a, i))
                label = paper_label(a, i)
                label = f"**▶ {label}**" if (a, i) == chosen else label
                paper_cell = "—" if paper is None else f"{paper:.2f} %"
                rows.append(f"| {label} | " + " | ".join(cells) + f" | {paper_cell} |")
        result = self.result()
        cfg = result.config
        intro = (
            f"#### Test error (%), our runs and Table 1\nOurs on {cfg.test_size:,} fresh test images; "
            f"learning rate chosen from {', '.join(f'{v:g}' for v in cfg.lr_grid)} on "
            f"{cfg.validation_size:,} validation images after {cfg.search_updates:,} updates. "
            f"The paper has no Sigmoid N row.\n\n"
        )
        notes = "\n\n".join(comparison_notes(result))
        self.table_text.object = intro + "\n".join(rows) + f"\n\n**{LABELS_BY_KEY[self.model.run]}:**\n\n" + notes

    def _draw_titles(self):
        """The titles of the combination (those naming a browser-side choice: ``_titles``)."""
        m = self.model
        combo = paper_label(m.activation, m.init)
        device = LABELS_BY_KEY[m.run].split(" (")[0]
        self.traj_figure.title.text = f"{combo}: activations during training ({device})"
        self.bp_var_figure.title.text = f"{combo}: Var[∂C/∂s] per layer during training"
        self.wg_var_figure.title.text = f"{combo}: Var[∂C/∂W] per layer during training"
        self.jac_figure.title.text = f"{m.activation.capitalize()}: mean singular value of each layer's Jacobian"
        self.curve_figure.title.text = f"Error on the 300 probe images during training ({device})"
        label = value(f"{INIT_LABELS[other_init(m.init)]} init (dashed)")
        for item in self._cmp_legend_items:
            item.label = label

    # ------------------------------------------------------------------------------------------------ protocol
    def _make_widgets(self) -> dict:
        """Every control's widget, keeping the browser's moves in the browser (``browser_only``): the browser-side
        ones redraw there, the server-side ones send the browser's state (``BrowserViews``)."""
        m, w = self.model, pn.widgets
        return {
            "run": browser_only(w.Select).from_param(m.param.run, label="committed run"),
            "activation": browser_only(w.Select).from_param(m.param.activation, label="activation"),
            "init": browser_only(w.Select).from_param(m.param.init, label="initialization"),
            "layer": browser_only(w.IntSlider).from_param(m.param.layer, label="layer (1 = input side)"),
            "checkpoint": browser_only(w.IntSlider).from_param(
                m.param.checkpoint, label="checkpoint (0 = initialization)"
            ),
            "snapshot": browser_only(w.RadioButtonGroup).from_param(m.param.snapshot, label="histograms"),
            "grad_kind": browser_only(w.RadioButtonGroup).from_param(
                m.param.grad_kind, label="gradient histograms show"
            ),
            "compare": browser_only(w.Checkbox).from_param(
                m.param.compare, label="compare with the other initialization (dashed)"
            ),
        }

    def controls(self) -> pn.Column:
        w = self._widgets
        return pn.Column(
            "### Run",
            w["run"],
            w["activation"],
            w["init"],
            "### Views",
            w["layer"],
            w["checkpoint"],
            w["snapshot"],
            w["grad_kind"],
            w["compare"],
            *self.browser.hidden(),
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [self.browser.preset_bar(PRESETS), self.notice, self.overflow_notice, self.readout],
            self.figures(),
            [self.table_text, explanation_panel(EXPLANATION)],
        )

    def figures(self) -> dict:
        return {
            "activation-trajectories": self.traj_figure,
            "activation-histogram": self.act_hist_figure,
            "gradient-histogram": self.grad_hist_figure,
            "jacobian-singular-values": self.jac_figure,
            "backprop-gradient-variance": self.bp_var_figure,
            "weight-gradient-variance": self.wg_var_figure,
            "gradient-variance-profile": self.profile_figure,
            "error-during-training": self.curve_figure,
            "test-error": self.bar_figure,
        }
