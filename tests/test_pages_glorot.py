"""The "Glorot & Bengio 2010" page without a server: it builds from both committed runs, every control changes
exactly the plot data it should, with numbers equal to the JSON files (read here independently with ``json``),
the test-error table matches the files and the paper's Table 1, bad link values become notices, a diverged run is
drawn (not a crash), and a control move costs a few milliseconds."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource

from app.components.heatmap import OVERFLOW_COLOR, UNDERFLOW_COLOR
from app.pages import glorot, page_spec
from app.pages.glorot import GlorotModel, GlorotPage

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "cpu": ROOT / "assets" / "glorot2010" / "results.json",
    "h100": ROOT / "assets" / "glorot2010" / "results-h100.json",
}
RAW = {key: json.loads(path.read_text()) for key, path in FILES.items()}
#: Glorot & Bengio 2010, Table 1, Shapeset-3x2 column, test error in %; "N" = normalized init.
PAPER_TABLE1 = {"Softsign": 16.27, "Softsign N": 16.06, "Tanh": 27.15, "Tanh N": 15.60, "Sigmoid": 82.61}
FIGURES = [
    "activation-trajectories",
    "activation-histogram",
    "gradient-histogram",
    "jacobian-singular-values",
    "backprop-gradient-variance",
    "weight-gradient-variance",
    "gradient-variance-profile",
    "error-during-training",
    "test-error",
]
# The sources a test watches, by page attribute.
SOURCES = [
    "traj_source",
    "traj_pct",
    "traj_highlight",
    "traj_checkpoint",
    "act_hist",
    "act_hist_cmp",
    "act_hist_hl",
    "grad_hist",
    "grad_hist_cmp",
    "grad_hist_hl",
    "bp_var",
    "bp_var_cmp",
    "bp_var_hl",
    "bp_var_ckpt",
    "wg_var",
    "wg_var_cmp",
    "wg_var_hl",
    "wg_var_ckpt",
    "profile_source",
    "profile_hl",
    "jac_source",
    "jac_hl",
    "curve_source",
    "curve_hl",
]


def raw_run(key: str, activation: str, init: str) -> dict:
    """The ``run`` entry of one combination, straight from the JSON file."""
    matches = [c["run"] for c in RAW[key]["combinations"] if (c["activation"], c["init"]) == (activation, init)]
    assert len(matches) == 1
    return matches[0]


def arr(values) -> np.ndarray:
    """JSON lists (null = not finite) as float arrays."""
    return np.array(
        [
            [np.nan if v is None else v for v in row] if isinstance(row, list) else (np.nan if row is None else row)
            for row in values
        ],
        np.float64,
    )


def centers(edges) -> np.ndarray:
    e = np.asarray(edges, np.float64)
    return (e[:-1] + e[1:]) / 2


def close(a, b) -> bool:
    # The page converts the engine's float64 arrays without arithmetic (or with one multiplication by 100, or a
    # midpoint of two edges): equal up to float64 rounding, NaN where the JSON has null.
    return np.allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-12, atol=0, equal_nan=True)


def _digest(value) -> str:
    a = np.asarray(value)
    if a.dtype == object or a.dtype.kind in "US":
        return repr(list(value))
    return f"{a.shape}:{hashlib.sha1(np.ascontiguousarray(a, np.float64).tobytes()).hexdigest()}"


def signature(page) -> dict[str, str]:
    sig = {name: ";".join(f"{k}={_digest(v)}" for k, v in sorted(getattr(page, name).data.items())) for name in SOURCES}
    for series, src in page.bar_sources.items():
        sig[f"bars:{series}"] = ";".join(f"{k}={_digest(v)}" for k, v in sorted(src.data.items()))
    return sig


def changed(page, before: dict) -> set[str]:
    now = signature(page)
    return {k for k in now if now[k] != before[k]}


@pytest.fixture(scope="module")
def page():
    return GlorotPage(query={})


# -------------------------------------------------------------------------------------------------------------------
def test_registered_and_builds_with_the_protocol():
    spec = page_spec("glorot")
    p = spec.build({})
    assert isinstance(p, GlorotPage) and isinstance(p.model, GlorotModel)
    assert p.query_notices == [] and not p.notice.visible and not p.overflow_notice.visible
    assert list(p.figures()) == FIGURES
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", name) for name in p.figures())
    shown = [pane.object for pane in p.panel().select(pn.pane.Bokeh)]
    assert shown == list(p.figures().values())
    assert p.settle(timeout_s=1.0) is None
    assert p.table_text.object and "Test error" in p.table_text.object


def test_both_runs_load_with_labels_from_the_files():
    labels = dict(GlorotModel.param.run.names)
    assert set(labels.values()) == set(FILES)
    for label, key in labels.items():
        raw = RAW[key]
        # the label names the budget written in the file (config and meta agree on it)
        assert raw["config"]["updates"] == raw["meta"]["budget_updates"]
        assert f"({raw['config']['updates']} updates)" in label
        result = glorot.load_result(key)
        assert result.config.updates == raw["config"]["updates"]
        assert len(result.combinations) == len(raw["combinations"]) == 6
    # once per process: a second page reads nothing again
    before = glorot.load_result.cache_info().misses
    GlorotPage(query={"run": "h100"})
    assert glorot.load_result.cache_info().misses == before


def test_default_view_equals_the_json(page):
    m = page.model
    assert (m.run, m.activation, m.init, m.snapshot) == ("cpu", "sigmoid", "standard", "final")
    run = raw_run("cpu", "sigmoid", "standard")
    assert m.checkpoint == len(run["checkpoint_updates"]) - 1 and m.layer == 5
    assert close(page.traj_source.data["x"], run["checkpoint_updates"])
    for i in range(1, 6):
        assert close(page.traj_source.data[f"mean{i}"], arr(run["act_mean"])[:, i - 1])
        # percentiles: one dashed line per layer, the 98th ones first, then the 2nd ones
        assert close(page.traj_pct.data["ys"][i - 1], arr(run["act_p98"])[:, i - 1])
        assert close(page.traj_pct.data["ys"][5 + i - 1], arr(run["act_p2"])[:, i - 1])
        assert close(page.bp_var.data[f"v{i}"], arr(run["backprop_var"])[:, i - 1])
        assert close(page.wg_var.data[f"v{i}"], arr(run["weight_grad_var"])[:, i - 1])
        assert close(page.act_hist.data[f"l{i}"], arr(run["final"]["activations"]["fraction"])[i - 1])
        assert close(page.grad_hist.data[f"l{i}"], arr(run["final"]["backprop_gradients"]["fraction"])[i - 1])
    assert close(page.act_hist.data["x"], centers(run["final"]["activations"]["edges"]))
    other = raw_run("cpu", "sigmoid", "glorot_uniform")
    assert close(page.act_hist_cmp.data["ys"][2], arr(other["final"]["activations"]["fraction"])[2])
    assert close(page.act_hist_cmp.data["xs"][2], centers(other["final"]["activations"]["edges"]))
    assert close(page.bp_var_cmp.data["ys"][1], arr(other["backprop_var"])[:, 1])
    assert page.bp_var_cmp.data["layer"] == [1, 2, 3, 4, 5]
    for init in ("standard", "glorot_uniform"):
        r = raw_run("cpu", "sigmoid", init)
        assert close(page.jac_source.data[f"{init}_initial"], r["initial"]["jacobian_sv_mean"])
        assert close(page.jac_source.data[f"{init}_final"], r["final"]["jacobian_sv_mean"])
        assert close(page.profile_source.data[f"bp_{init}"], arr(r["backprop_var"])[-1])
        assert close(page.profile_source.data[f"wg_{init}"], arr(r["weight_grad_var"])[-1])
    for c in RAW["cpu"]["combinations"]:
        assert close(page.curve_source.data[f"{c['activation']}_{c['init']}"], 100 * arr(c["run"]["probe_error"]))
    # the Fig. 2 finding is in the drawn data: the sigmoid top layer ends saturated at 0, the others do not
    assert page.traj_source.data["mean5"][-1] < 0.05 < page.traj_source.data["mean4"][-1]


# Every control: (name, new value, the sources it must change — and no other).
MOVES = [
    ("layer", 2, {"traj_highlight", "act_hist_hl", "grad_hist_hl", "bp_var_hl", "wg_var_hl", "profile_hl", "jac_hl"}),
    ("checkpoint", 7, {"traj_checkpoint", "bp_var_ckpt", "wg_var_ckpt", "profile_source", "profile_hl"}),
    ("snapshot", "initial", {"act_hist", "act_hist_cmp", "act_hist_hl", "grad_hist", "grad_hist_cmp", "grad_hist_hl"}),
    ("grad_kind", "weight", {"grad_hist", "grad_hist_cmp", "grad_hist_hl"}),
    ("compare", False, {"act_hist_cmp", "grad_hist_cmp", "bp_var_cmp", "wg_var_cmp"}),
    ("compare", True, {"act_hist_cmp", "grad_hist_cmp", "bp_var_cmp", "wg_var_cmp"}),
    ("activation", "tanh", set(SOURCES) - {"curve_source"} | {"bars:run:cpu", "bars:run:h100", "bars:paper"}),
    (
        "init",
        "glorot_uniform",
        set(SOURCES) - {"curve_source", "jac_source", "profile_source"}
        | {"bars:run:cpu", "bars:run:h100", "bars:paper"},
    ),
    ("run", "h100", set(SOURCES) | {"bars:run:cpu", "bars:run:h100"}),
]


def test_every_control_changes_exactly_its_sources():
    page = GlorotPage(query={})
    for name, value, expected in MOVES:
        before = signature(page)
        setattr(page.model, name, value)
        assert changed(page, before) == expected, name
        assert not page.notice.visible and not page.overflow_notice.visible, (name, page.notices.text)


def test_controls_pick_the_json_numbers():
    page = GlorotPage(query={})
    m = page.model
    m.param.update(activation="tanh", init="standard", layer=2, checkpoint=7, snapshot="initial", grad_kind="weight")
    run = raw_run("cpu", "tanh", "standard")
    norm = raw_run("cpu", "tanh", "glorot_uniform")
    upd = run["checkpoint_updates"][7]
    # checkpoint: the spans, the markers and the per-layer profile
    assert page.traj_span.location == page.bp_var_span.location == page.curve_span.location == upd
    assert close(page.traj_checkpoint.data["y"], arr(run["act_mean"])[7])
    assert close(page.bp_var_ckpt.data["y"], arr(run["backprop_var"])[7])
    assert close(page.profile_source.data["bp_glorot_uniform"], arr(norm["backprop_var"])[7])
    assert close(page.profile_hl.data["y"], [arr(run["backprop_var"])[7, 1], arr(run["weight_grad_var"])[7, 1]])
    # layer
    assert close(page.traj_highlight.data["mean"], arr(run["act_mean"])[:, 1])
    assert close(page.wg_var_hl.data["y"], arr(run["weight_grad_var"])[:, 1])
    assert close(page.jac_hl.data["y"], [run["initial"]["jacobian_sv_mean"][1], run["final"]["jacobian_sv_mean"][1]])
    # snapshot + gradient kind: the weight-gradient histograms at initialization, both inits
    assert close(page.grad_hist.data["x"], centers(run["initial"]["weight_gradients"]["edges"]))
    assert close(page.grad_hist.data["l4"], arr(run["initial"]["weight_gradients"]["fraction"])[3])
    assert close(page.grad_hist_cmp.data["xs"][0], centers(norm["initial"]["weight_gradients"]["edges"]))
    assert close(page.grad_hist_hl.data["y"], arr(run["initial"]["weight_gradients"]["fraction"])[1])
    assert close(page.act_hist.data["l1"], arr(run["initial"]["activations"]["fraction"])[0])
    # init: the chosen one solid, the other dashed
    m.init = "glorot_uniform"
    assert close(page.bp_var.data["v1"], arr(norm["backprop_var"])[:, 0])
    assert close(page.bp_var_cmp.data["ys"][0], arr(run["backprop_var"])[:, 0])
    # compare off: the dashed curves are gone
    m.compare = False
    assert len(page.act_hist_cmp.data["xs"]) == len(page.bp_var_cmp.data["xs"]) == 0
    # run: the H100 file, the checkpoint keeping its fraction of training (7 of 20 -> 14 of 40)
    m.run = "h100"
    h = raw_run("h100", "tanh", "glorot_uniform")
    assert m.param.checkpoint.bounds == (0, len(h["checkpoint_updates"]) - 1) and m.checkpoint == 14
    assert close(page.traj_source.data["x"], h["checkpoint_updates"])
    assert close(page.traj_source.data["mean3"], arr(h["act_mean"])[:, 2])
    assert page.traj_span.location == h["checkpoint_updates"][14]
    assert "After 32,200 updates" in page.readout.object  # checkpoint 14 of the H100 file: 14 * 92000 / 40


def test_table_and_bars_match_the_files_and_table_1():
    page = GlorotPage(query={})
    text = page.table_text.object
    labels = dict(GlorotModel.param.run.names)
    by_key = {v: k for k, v in labels.items()}
    rows = {}
    for line in text.splitlines():
        cells = [c.strip().strip("*").replace("▶ ", "").strip("*").strip() for c in line.strip("|").split("|")]
        if cells and cells[0] in ("Sigmoid", "Sigmoid N", "Tanh", "Tanh N", "Softsign", "Softsign N"):
            rows[cells[0]] = cells[1:]
    assert len(rows) == 6
    header = next(line for line in text.splitlines() if line.startswith("| |"))
    assert f"ours: {by_key['cpu']}" in header and f"ours: {by_key['h100']}" in header
    for col, key in enumerate(["cpu", "h100"]):
        for row in RAW[key]["table"]:
            cell = rows[row["label"]][col]
            assert cell.startswith(f"{row['test_error_pct']:.2f} %"), (key, row["label"], cell)
            assert f"(lr {row['learning_rate']:g})" in cell
    for label in rows:
        paper = rows[label][2]
        if label in PAPER_TABLE1:
            assert paper == f"{PAPER_TABLE1[label]:.2f} %"
        else:
            assert paper == "—"  # Table 1 has no Sigmoid N row
    for key in ("cpu", "h100"):  # the JSON's own paper column agrees with the paper's Table 1 too
        for row in RAW[key]["table"]:
            assert row["paper_test_error_pct"] == PAPER_TABLE1.get(row["label"])
    # bars: one series per run file plus the paper
    order = [
        f"{a.capitalize()}{' N' if i == 'glorot_uniform' else ''}"
        for a in ("sigmoid", "tanh", "softsign")
        for i in ("standard", "glorot_uniform")
    ]
    for key in ("cpu", "h100"):
        src = page.bar_sources[f"run:{key}"].data
        assert list(src["x"]) == order
        expected = {r["label"]: r["test_error_pct"] for r in RAW[key]["table"]}
        assert close(src["top"], [expected[x] for x in order])
    paper = page.bar_sources["paper"].data["top"]
    assert close(paper, [PAPER_TABLE1.get(x, np.nan) for x in order])
    # the chosen run's bars are opaque, the other run's faded; the chosen combination is outlined
    assert page.bar_sources["run:cpu"].data["alpha"][0] > page.bar_sources["run:h100"].data["alpha"][0]
    assert list(page.bar_sources["run:cpu"].data["line_width"]).index(2.0) == order.index("Sigmoid")


def test_comparison_notes_are_computed_from_the_data():
    cpu = glorot.load_result("cpu")
    notes = " ".join(glorot.comparison_notes(cpu))
    assert f"{cpu.config.updates:,} SGD updates" in notes and "far below the paper" in notes
    # sigmoid worst in the committed run; Softsign N clearly below chance (83.14 % vs 88.9 %, s.e. 0.44 points)
    assert "**Matches:** the sigmoid is the worst" in notes
    assert "Clearly below chance: Softsign N." in notes
    assert "lowers Softsign's error by 5.42 points" in notes  # 88.56 - 83.14, both from the file
    # change the data: the sentences follow
    swapped = dataclasses.replace(
        cpu,
        combinations=tuple(
            dataclasses.replace(
                c, run=dataclasses.replace(c.run, test_error=0.10 if c.activation == "sigmoid" else 0.5)
            )
            for c in cpu.combinations
        ),
    )
    notes = " ".join(glorot.comparison_notes(swapped))
    assert "**Does not match:**" in notes and "worse than the sigmoid (10.00 %)" in notes
    assert "No net is clearly below chance" not in notes
    assert "does not lower Tanh's error" in notes  # equal errors: no improvement


def test_bad_link_values_give_notices():
    page = GlorotPage(
        query={
            "run": "gpu",
            "activation": "relu",
            "init": "glorot_uniform",
            "layer": "9",
            "checkpoint": "abc",
            "compare": "maybe",
            "snapshot": "initial",
        }
    )
    text = page.notices.text
    assert page.notice.visible and "Link settings adjusted" in text
    assert "run='gpu'" in text and "activation='relu'" in text and "layer=9 is out of range" in text
    assert "checkpoint='abc'" in text and "compare='maybe'" in text
    m = page.model
    assert (m.run, m.activation, m.init, m.layer, m.snapshot) == ("cpu", "sigmoid", "glorot_uniform", 5, "initial")
    assert len(page.query_notices) == 5
    # the checkpoint is checked against the linked run's own checkpoints
    ok = GlorotPage(query={"run": "h100", "checkpoint": "40"})
    assert ok.query_notices == [] and ok.model.checkpoint == 40
    clamped = GlorotPage(query={"run": "cpu", "checkpoint": "40"})
    assert clamped.model.checkpoint == 20 and "checkpoint=40 is out of range [0, 20]" in clamped.query_notices[0]


def test_presets_apply_cleanly():
    page = GlorotPage(query={})
    for name, values in glorot.PRESETS.items():
        before = signature(page)
        page.model.param.update(**values)
        # the first preset (Fig. 2) is the page's default state, so it changes nothing when applied first
        assert changed(page, before) or name == next(iter(glorot.PRESETS)), name
        assert not page.notice.visible, (name, page.notices.text)


def test_a_diverged_run_is_drawn_distinctly():
    cpu = glorot.load_result("cpu")

    def broken(c):
        if (c.activation, c.init) != ("tanh", "standard"):
            return c
        r = c.run
        mean = r.act_mean.copy()
        mean[10:, 2] = np.nan
        bp = r.backprop_var.copy()
        bp[12:, :] = np.inf
        bp[5, 0] = 0.0  # underflow on a log axis
        final = dataclasses.replace(r.final, jacobian_sv_mean=np.full_like(r.final.jacobian_sv_mean, np.nan))
        return dataclasses.replace(
            c, run=dataclasses.replace(r, act_mean=mean, backprop_var=bp, final=final, diverged=True, test_error=1.0)
        )

    bad = dataclasses.replace(cpu, combinations=tuple(broken(c) for c in cpu.combinations))
    page = GlorotPage(query={"activation": "tanh"}, results={"cpu": bad})
    assert not page.notice.visible, page.notices.text
    assert page.overflow_notice.visible and "not finite" in page.overflow_notice.object
    mean3 = page.traj_source.data["mean3"]
    assert np.isnan(mean3[10:]).all() and np.isfinite(mean3[:10]).all()
    marks = page.traj_marks.data
    assert len(marks["x"]) == 11 and set(marks["color"]) == {OVERFLOW_COLOR}  # 21 checkpoints, NaN from 10 on
    bp_marks = page.bp_var_marks.data
    colors = list(bp_marks["color"])
    assert colors.count(OVERFLOW_COLOR) == 9 * 5 and colors.count(UNDERFLOW_COLOR) == 1  # rows 12-20 inf, one 0
    assert np.isnan(page.bp_var.data["v1"][5]) and np.isnan(page.jac_source.data["standard_final"]).all()
    assert "diverged" in page.table_text.object and "This run diverged" in page.readout.object
    # moving on keeps working
    page.model.layer = 3
    page.model.checkpoint = 15
    assert not page.notice.visible and np.isnan(page.traj_highlight.data["mean"][10:]).all()


def test_a_control_move_is_fast():
    """A move only copies arrays from the cached files into sources. The bound is on the CPU time of this thread
    (the wall time on the shared 2-core test machine mostly measures other jobs): the brief's budget of 30 ms per
    move; measured 1.5-9 ms median per control, the most for activation/init/run, which redraw every figure."""
    page = GlorotPage(query={})
    m = page.model
    cpu, wall = {}, {}
    for name, values in (
        ("checkpoint", [3, 4, 5, 6] * 3),
        ("layer", [1, 2, 3, 4] * 3),
        ("snapshot", ["initial", "final"] * 3),
        ("grad_kind", ["weight", "backprop"] * 3),
        ("compare", [False, True] * 3),
        ("init", ["glorot_uniform", "standard"] * 3),
        ("activation", ["tanh", "softsign", "sigmoid"] * 3),
        ("run", ["h100", "cpu"] * 3),
    ):
        c, w = [], []
        for v in values:
            t0, c0 = time.perf_counter(), time.thread_time()
            setattr(m, name, v)
            c.append(time.thread_time() - c0)
            w.append(time.perf_counter() - t0)
        cpu[name], wall[name] = statistics.median(c), statistics.median(w)
    print("CPU", {k: f"{1000 * v:.1f} ms" for k, v in cpu.items()})
    print("wall", {k: f"{1000 * v:.1f} ms" for k, v in wall.items()})
    assert max(cpu.values()) < 0.030, cpu


def test_no_figure_is_rebuilt():
    page = GlorotPage(query={})
    figs = dict(page.figures())
    renderers = {k: list(f.renderers) for k, f in figs.items()}
    for name, value, _ in MOVES:
        setattr(page.model, name, value)
    assert page.figures() == figs
    assert all(list(f.renderers) == renderers[k] for k, f in page.figures().items())
    assert all(isinstance(s, ColumnDataSource) for s in (page.traj_source, page.bp_var, page.curve_source))
    assert math.isfinite(page.traj_span.location)


def test_import_reads_no_file_and_a_missing_run_file_is_a_notice(tmp_path):
    """Importing the page reads no committed run (they are read on first use); a missing run file is reported on the
    page, which shows the others; with none, building the page raises a clear error (not the import). A fresh
    interpreter: this process has read the files already."""
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "results.json").write_text(FILES["cpu"].read_text())
    (tmp_path / "none").mkdir()
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        import app.pages.glorot as glorot
        from app.pages.glorot import data, model
        from app.pages import page_spec
        assert data.load_result.cache_info().currsize == 0 and data._catalogue.cache_info().currsize == 0
        data.RESULTS_DIR = Path({str(tmp_path / "one")!r})
        page = page_spec("glorot").build({{}})
        assert page.model.run == "cpu" and list(glorot.GlorotModel.param.run.objects) == ["cpu"]
        assert page.notice.visible and "results-h100.json (No such file or directory)" in page.notices.text
        assert {str(tmp_path)!r} not in page.notices.text
        for cached in (data.load_result, data._catalogue, data.layer_colors, model.fit_to_runs):
            cached.cache_clear()
        data.RESULTS_DIR = Path({str(tmp_path / "none")!r})
        try:
            page_spec("glorot").build({{}})
        except RuntimeError as exc:
            assert "no Glorot & Bengio 2010 results in" in str(exc), exc
        else:
            raise AssertionError("built without any run")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
