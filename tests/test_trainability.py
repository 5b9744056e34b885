"""The trainability phase diagram (Schoenholz et al. 2017, Sec. 5, Fig. 5): the vmapped grid against nets trained
one by one, the boundary 6 ξ_c at the critical line, the committed run's record and its agreement with the
L = 6 ξ_c boundary, and the page view's live retraining (c* and ξ_c themselves: tests/test_signal_propagation.py)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import param
import pytest

from app.components.page import Page
from app.pages import edge_of_chaos_phase as view_mod
from vgp_core import theory
from vgp_core.experiments import trainability as tr

#: a grid small enough to train in a second: three σ_w² across the transition, two depths
TINY = tr.TrainabilityConfig(
    sigma_w2=(1.2, 2.0, 3.5), depths=(2, 4), width=16, steps=20, batch_size=16, learning_rate=0.05, chunk=10
)


@pytest.fixture(scope="module")
def tiny_result() -> tr.TrainabilityResult:
    return tr.run(TINY, progress=False, command="test")


# ------------------------------------------------------------------------------------------------ the grid
def test_vmapped_grid_equals_nets_trained_one_by_one():
    train_acc, test_acc, loss, diverged = tr.train_depth(TINY, 4, vectorize=True)
    n_train = len(tr.load_digits(TINY.test_size, TINY.seed).y_train)
    for i, sw2 in enumerate(TINY.sigma_w2):
        one = tr.train_one(sw2, 4, TINY)
        # The same float32 arithmetic in two compiled programs (a batched and a plain matmul may sum in another
        # order: ~1e-7 relative per operation); 20 SGD steps of a 4-layer net keep that below 1e-5 relative
        # (measured: 2e-7). Deep chaotic nets amplify it (see the module's docstring), so the grid here is shallow.
        np.testing.assert_allclose(one.loss, loss[i], rtol=1e-5, atol=1e-6)
        # an accuracy may differ only if an example sits on a decision tie: at most one example of the split
        assert abs(one.train_accuracy - train_acc[i]) <= 1.0 / n_train
        assert one.diverged == diverged[i]
    assert not np.any(diverged)
    assert loss[:, -5:].mean() < loss[:, :5].mean()  # the nets learn: the comparison is not between constants


def test_mapped_grid_is_the_single_net_program():
    """The CPU's lax.map loop runs the single-net program itself: bit-identical to train_one, chaotic nets too."""
    config = TINY.replace(sigma_w2=(1.2, 4.0), width=32)
    _, _, loss, _ = tr.train_depth(config, 30, vectorize=False)
    for i, sw2 in enumerate(config.sigma_w2):
        np.testing.assert_array_equal(tr.train_one(sw2, 30, config).loss, loss[i])


@pytest.mark.slow  # a fresh interpreter with three devices compiles everything again (~40 s on two shared cores)
def test_grid_sharded_over_three_devices_pads_and_matches_single_nets():
    """Two nets on three forced CPU devices: the net axis is padded to 3 and sharded; both batchings give each net's
    single-net curve (vmap: float32 rounding of a shallow, stable net, as above; lax.map: the same program)."""
    code = textwrap.dedent(
        """
        import os, json
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=3"
        import jax, numpy as np
        from vgp_core.experiments import trainability as tr
        assert len(jax.devices()) == 3, jax.devices()
        c = tr.TrainabilityConfig(sigma_w2=(1.2, 3.5), depths=(3,), width=16, steps=20, batch_size=16,
                                  learning_rate=0.05, chunk=10)
        out = {str(v): tr.train_depth(c, 3, vectorize=v)[2].tolist() for v in (True, False)}
        out["one"] = [tr.train_one(s, 3, c).loss.tolist() for s in c.sigma_w2]
        print(json.dumps(out))
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    one = np.array(got["one"])
    assert one.shape == (2, 20)
    np.testing.assert_allclose(np.array(got["True"]), one, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(got["False"]), one, rtol=1e-5, atol=1e-6)


def test_no_compilation_after_warm_up():
    """The page's retraining of a tapped cell compiles nothing once ``warm_up`` ran for its depth."""
    from vgp_core.compilations import count_compilations

    config = TINY.replace(width=24)  # shapes of their own: nothing compiled by the other tests
    tr.warm_up(config, depths=(3,))
    with count_compilations() as compiled:
        tr.train_one(2.5, 3, config)
    assert len(compiled) == 0


def test_paired_draws_and_data_stream():
    """Every σ_w² of a depth scales the same standard-normal draws (W = σ_w/√fan_in · Z, b = σ_b · Z)."""
    draws = tr.standard_draws(tr._depth_key(0, 4), 4, 16, 64)
    a, b = tr.scale_draws(draws, 1.0, 0.05), tr.scale_draws(draws, 4.0, 0.05)
    np.testing.assert_allclose(np.asarray(b.w_hidden), 2.0 * np.asarray(a.w_hidden), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(a.b_hidden), np.asarray(b.b_hidden))
    # weight variance σ_w²/N: the sample variance of 3 × 16 × 16 draws is within 4 standard errors (√(2/768))
    assert np.var(np.asarray(b.w_hidden)) * 16 / 4.0 == pytest.approx(1.0, abs=4 * math.sqrt(2 / 768))


def test_train_one_streams_chunks():
    chunks = list(tr.train_one_chunks(2.0, 2, TINY))
    assert [c.steps_done for c in chunks] == [10, 20]
    assert [c.done for c in chunks] == [False, True]
    assert len(chunks[-1].loss) == 20 and np.array_equal(chunks[-1].loss[:10], chunks[0].loss)


def test_result_json_round_trip_and_loss_curve(tiny_result):
    back = tr.TrainabilityResult.from_json(tiny_result.to_json())
    for f in dataclasses.fields(tr.TrainabilityResult):
        a, b = getattr(tiny_result, f.name), getattr(back, f.name)
        if isinstance(a, np.ndarray):  # JSON has no inf or NaN: both come back as NaN (null in the file)
            np.testing.assert_array_equal(np.where(np.isfinite(a), a, np.nan) if a.dtype.kind == "f" else a, b)
        else:
            assert a == b, f.name
    one = tr.train_one(3.5, 2, TINY)
    # the stored curve is the mean loss of each chunk (same tolerance as the vmapped-vs-one test)
    np.testing.assert_allclose(tiny_result.loss_curve[2, 0], one.loss.reshape(2, 10).mean(1), rtol=1e-5)
    assert tiny_result.train_accuracy.shape == (3, 2) and tiny_result.chunk_ends.tolist() == [10, 20]


def test_boundary_agreement_counts(tiny_result):
    r = dataclasses.replace(tiny_result, train_accuracy=np.array([[0.9, 0.2], [0.95, 0.9], [0.5, 0.1]]))
    six_xi = r.trainable_depth()
    agree = tr.boundary_agreement(r, margin=0.2)
    inside = [(i, j) for i in range(3) for j in range(2) if r.depths[j] <= six_xi[i]]
    trained = [(i, j) for i in range(3) for j in range(2) if r.train_accuracy[i, j] > 0.3]
    assert agree.inside_total == len(inside) and agree.outside_total == 6 - len(inside)
    assert agree.inside_trainable == len(set(inside) & set(trained))
    assert agree.outside_trainable == len(set(trained) - set(inside))
    ratios = [r.depths[j] / six_xi[i] for i, j in trained]
    assert agree.max_depth_ratio == pytest.approx(max(ratios))


# ------------------------------------------------------------------------------------------------ theory
def test_boundary_diverges_at_the_critical_line():
    """6 ξ_c (Eq. 9) grows without bound toward χ₁ = 1 from both sides, at the σ_b² of the experiment."""
    crit = theory.critical_sigma_w2("tanh", tr.SIGMA_B2)
    six_xi = tr.trainable_depth(crit + np.array([-0.5, -0.05, -0.005, 0.005, 0.05, 0.5]))
    assert six_xi[0] < six_xi[1] < six_xi[2] and six_xi[5] < six_xi[4] < six_xi[3]
    assert min(six_xi[2], six_xi[3]) > 50 * max(six_xi[0], six_xi[5])
    # in the ordered phase c* = 1 and Eq. 9 is ξ_c = -1/ln χ₁ (vgp_core.theory's χ₁: float32, ~1e-6 relative)
    chi = theory.chi_1("tanh", 1.3, tr.SIGMA_B2)
    assert tr.trainable_depth(1.3) == pytest.approx(-6.0 / math.log(chi), rel=1e-4)


# ------------------------------------------------------------------------------------------------ committed run
@pytest.fixture(scope="module")
def committed() -> tr.TrainabilityResult:
    return tr.load_committed()


def test_committed_run_has_its_record(committed):
    c = committed.config
    assert committed.command.startswith("python -m vgp_core.experiments.trainability ")
    assert f"--budget {c.steps}" in committed.command and f"--seed {c.seed}" in committed.command
    assert committed.device and committed.jax_version and committed.date and committed.vectorized is not None
    assert committed.wall_time_s > 0 and committed.nets_per_second > 0
    s, d = len(c.sigma_w2), len(c.depths)
    assert committed.train_accuracy.shape == committed.test_accuracy.shape == committed.diverged.shape == (s, d)
    assert committed.loss_curve.shape == (s, d, len(committed.chunk_ends))
    assert min(c.sigma_w2) <= 1.0 and max(c.sigma_w2) >= 4.0 and min(c.depths) <= 10 and max(c.depths) >= 300
    assert c.sigma_b2 == tr.SIGMA_B2
    # ξ_c is largest at the grid's σ_w² nearest the stored critical point (it diverges there)
    nearest = int(np.argmin(np.abs(committed.sigma_w2 - committed.critical_sigma_w2)))
    assert int(np.argmax(committed.xi_c)) == nearest


def test_committed_trainable_region_lies_within_six_xi_c(committed):
    """The paper's Fig. 5: networks train only where L ≲ 6 ξ_c. Measured here: nearly every cell that trained lies
    inside the boundary. Inside it, at our 300-step budget, the deep nets near χ₁ = 1 have not trained yet (the
    paper's region also fills the boundary only with longer training), so recall is reported, not asserted high."""
    agree = tr.boundary_agreement(committed, margin=0.2)
    assert agree.inside_trainable >= 10
    assert agree.precision >= 0.9
    # the few trained cells outside sit just past it, within the next depth of the grid (measured: 1.15 × 6 ξ_c)
    assert agree.max_depth_ratio <= 1.25
    # and the boundary separates: cells inside train far more often than cells outside
    assert agree.recall > 3 * agree.outside_trainable / max(1, agree.outside_total)


def test_committed_cell_is_reproduced_by_train_one(committed):
    """Retraining one shallow cell as the page does gives the committed loss curve: the vmapped run and the
    single-net program run the same float32 SGD, summation order aside (measured: chunk means agree to 3e-8–2e-7
    at depth 10–20 over 300 steps); 1e-5 leaves room for another CPU's kernels."""
    i = int(np.argmin(np.abs(committed.sigma_w2 - committed.critical_sigma_w2)))
    j = int(np.argmin(committed.depths))
    one = tr.train_one(float(committed.sigma_w2[i]), int(committed.depths[j]), committed.config)
    means = one.loss.reshape(len(committed.chunk_ends), -1).mean(axis=1)
    np.testing.assert_allclose(means, committed.loss_curve[i, j], rtol=1e-5)
    assert one.train_accuracy == pytest.approx(committed.train_accuracy[i, j], abs=2e-3)


# ------------------------------------------------------------------------------------------------ page view
class _HostModel(param.Parameterized):
    pass


class _Host(Page):
    Model = _HostModel
    title = "trainability test host"

    def __init__(self, path, **kw):
        self._path = path
        super().__init__(query={}, **kw)

    def setup(self):
        self.view = view_mod.PhaseDiagramView(self, self._path)

    def panel(self):
        return self.view.panel()

    def figures(self):
        return self.view.figures()


def test_view_draws_the_grid_and_retrains_a_tapped_cell(tiny_result, tmp_path):
    path = tmp_path / "results.json"
    path.write_text(tiny_result.to_json())
    host = _Host(str(path))
    view = host.view
    cells = view.cells.data
    assert len(cells["train"]) == 6 and np.allclose(np.sort(cells["sigma_w2"]), np.repeat(TINY.sigma_w2, 2))
    assert view.critical.data["x"][0] == pytest.approx(tiny_result.critical_sigma_w2)
    # a tap at the middle of cell (σ_w² = 2.0, depth 4) selects it; outside the grid nothing happens
    assert view_mod.cell_at(tiny_result, 2.0, 4.0) == (1, 1)
    assert view_mod.cell_at(tiny_result, 10.0, 4.0) is None
    view.select(1, 1)
    host.settle(60)
    p = view.last_progress
    assert p is not None and p.done and (p.sigma_w2, p.depth) == (2.0, 4)
    np.testing.assert_allclose(view.live.data["loss"].reshape(2, 10).mean(1), tiny_result.loss_curve[1, 1], rtol=1e-5)
    assert "test" in view.summary.object and "done" in view.status.object
    assert set(view.figures()) == {"trainability", "trainability-loss"}


def test_view_reports_an_unreadable_run(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    host = _Host(str(path))
    assert "could not be read" in host.notices.text and host.view.result is None
