"""Page "Glorot & Bengio 2010", numbers to drawable arrays: the per-layer curves, histograms, variances and readout
of every setting of the browser-side controls, as tables (``app.components.browser_views.Tables``) that the page's
own draw and the browser's CustomJS both pick from; the comparison with the paper's Table 1.

References:
  Glorot & Bengio (2010), AISTATS, Figs. 2-9 and Table 1.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from vgp_core.experiments import glorot2010 as g10

from ...components.browser_views import Tables
from ...components.heatmap import OVERFLOW_COLOR, UNDERFLOW_COLOR
from .data import (
    CHANCE,
    SIGNIFICANT_SE,
    labels_by_key,
    layer_colors,
    load_result,
    max_depth,
    other_init,
    paper_label,
    runs,
)
from .model import GlorotModel

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
            color.append(layer_colors()[i])
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
    for i in range(1, max_depth() + 1):
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
    x, colors = np.full(depth, upd), list(layer_colors()[:depth])
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
        ("readout", 0): f"<strong>{paper_label(s['activation'], s['init'])}, {labels_by_key()[s['run']]}:</strong> "
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
        "run": list(runs().values()),
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
