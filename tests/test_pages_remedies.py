"""The Remedies page without a server: the lab settles, the ranked table holds exactly what ``run_remedy`` measures,
subsets and depth/steps changes redraw the views (from the cache where possible), bad links give notices, the Kumar
row says it does not cure the sigmoid net and the LSTM row links to the Recurrent page."""

import math
import time

import numpy as np
import pytest

from app.pages import page_spec
from app.pages import remedies as page_mod
from app.pages.remedies import CACHE, RemediesModel, RemediesPage
from vgp_core.experiments import remedies as lab

# Small nets keep the lab fast (one width compiles once); depth 10 is deep enough for the sigmoid baseline's
# gradient to fall many decades (chi_1 ≈ 0.02 per layer), which is what the verdicts judge.
SMALL = dict(depth=10, width=32, steps=20, seed=3)
PICK = ["relu", "residual", "kumar", "lstm"]


def _page(**changes):
    values = dict(SMALL, remedies=list(PICK))
    values.update(changes)
    page = RemediesPage(RemediesModel(**values), query={})
    page.panel()
    page.settle(timeout_s=600)
    return page


@pytest.fixture(scope="module")
def settled():
    return _page()


def _row(page, name):
    data = page.table_source.data
    i = data["name"].index(name)
    return {k: v[i] for k, v in data.items()}


def test_table_rows_equal_run_remedy_results(settled):
    page = settled
    config = lab.LabConfig(depth=10, width=32, steps=20, learning_rate=page.model.learning_rate, seed=3)
    assert page._config == config
    # Measured again here, directly and without the page's cache: the same compiled programs on the same inputs,
    # so the numbers agree to float32 round-off (XLA's CPU reductions are deterministic; rtol 1e-5 leaves room
    # for nothing more than the last bits).
    base = lab.run_remedy("baseline", config)
    fresh = [base] + [lab.run_remedy(n, config, base) for n in PICK]
    expected = lab.rank(fresh)
    data = page.table_source.data
    assert data["name"] == [r.name for r in expected]
    assert data["rank"] == list(range(1, len(expected) + 1))
    for r in expected:
        row = _row(page, r.name)
        assert row["label"] == r.label and row["group"] == lab.remedy(r.name).group
        if math.isfinite(r.final_loss):
            assert float(row["final_loss"]) == pytest.approx(r.final_loss, abs=1e-4)  # printed with 4 decimals
            assert float(row["accuracy"]) == pytest.approx(r.final_accuracy, abs=1e-3)  # printed with 3
        else:
            assert row["final_loss"] == "n/a"
        assert row["literature"].startswith("yes — " if r.matches_literature else "NO — ")
        assert row["verdict"] == r.verdict
        if r.name != "baseline" and math.isfinite(r.input_grad_ratio):
            assert row["grad_change"] == f"×10^{r.input_grad_ratio:+.1f}"
            assert row["direction"] == r.direction
        mine = page._results[r.name]
        np.testing.assert_allclose(mine.grad_init, r.grad_init, rtol=1e-5)
        np.testing.assert_allclose(mine.grad_trained, r.grad_trained, rtol=1e-5)
        np.testing.assert_allclose(mine.loss, r.loss, rtol=1e-5)


def test_views_hold_every_feedforward_result(settled):
    page = settled
    feedforward = ["baseline", "relu", "residual", "kumar"]
    for name in feedforward:
        r = page._results[name]
        prof = page.profiles.sources[name].data
        np.testing.assert_array_equal(prof["x"], np.arange(1, 11))
        # default view: after training; on the log axis 0 (underflow) and inf/NaN (overflow) become gaps + crosses
        shown = np.where(np.isfinite(r.grad_trained) & (r.grad_trained > 0), r.grad_trained, np.nan)
        np.testing.assert_allclose(prof["y"], shown)
        np.testing.assert_allclose(page.losses.sources[name].data["y"], r.loss)
        assert len(page.losses.sources[name].data["x"]) == 20
    bad = sum(int((~(np.isfinite(g) & (g > 0))).sum()) for g in (page._results[n].grad_trained for n in feedforward))
    assert len(page.profiles.marks.data["x"]) == bad
    # the LSTM is not a feed-forward run: no curve and no crosses (its NaN arrays are no overflow), no bar
    assert len(page.profiles.sources["lstm"].data["x"]) == 0
    assert "LSTM (recurrent case)" not in page.profiles.marks.data["label"]
    assert "LSTM (recurrent case)" not in page.rank_source.data["label"]
    assert set(page.rank_source.data["label"]) == {
        page._results[n].label for n in ["baseline", "relu", "residual", "kumar"]
    }
    assert page.progress.value == page.progress.max == 5
    assert "5/5" in page.progress_text.object
    page.model.profile = "at initialization"
    g0 = page._results["relu"].grad_init
    np.testing.assert_allclose(page.profiles.sources["relu"].data["y"], np.where(g0 > 0, g0, np.nan))
    assert "at init" in page.profiles.figure.title.text
    page.model.profile = "after training"
    legend = [item.label.value for item in page.profiles.legend.items]
    # one legend for both profiles: the marks' entry if either has marks
    bad_init = sum(int((~(np.isfinite(g) & (g > 0))).sum()) for g in (page._results[n].grad_init for n in feedforward))
    marked = ["overflow (inf/NaN) or underflow (0)"] if bad or bad_init else []
    assert legend == [lab.remedy(n).label for n in feedforward] + marked


def test_both_profiles_are_held_for_the_browser_and_summarised_as_the_server_does(settled):
    """The "profile shown" buttons choose in the browser (issue 11): the page sends both profiles (``BrowserViews``
    tables), each as the server draws it, with the summary the server's own makes of it (WCAG 1.1.1)."""
    from app.components.browser_views import _BrowserOnly
    from app.components.figure_text import FigureText, paragraph
    from app.pages.remedies import PROFILE_CHOICES

    page = settled
    (tables,) = page.browser.tables
    assert isinstance(page.profile_choice, _BrowserOnly)  # a click sends nothing
    for choice, field in zip(PROFILE_CHOICES, ("grad_trained", "grad_init")):
        state = {"profile": choice}
        for name in ("baseline", "relu", "residual", "kumar"):
            g = getattr(page._results[name], field)
            shown = np.where(np.isfinite(g) & (g > 0), g, np.nan)
            np.testing.assert_allclose(tables.value(f"line-{name}", state)["y"], shown)
        assert len(tables.value("line-lstm", state)["x"]) == 0
        page.model.profile = choice  # the server draws the choice: exactly the table's values
        assert page.profiles.figure.title.text == tables.value("title", state)
        assert paragraph(FigureText.of(page.profiles.figure).sentence()) == tables.value("summary", state)
    assert "at init" in tables.value("title", {"profile": PROFILE_CHOICES[1]})
    page.model.profile = PROFILE_CHOICES[0]


def test_kumar_row_says_it_does_not_cure_the_sigmoid_and_lstm_links_to_recurrent(settled):
    kumar = _row(settled, "kumar")
    # Mean-field theory (Poole et al. 2016): Kumar's sigma_w^2 = 12.96 leaves the sigmoid net at chi_1 ≈ 0.36 < 1
    # (still vanishing).
    assert "does NOT fix the vanishing gradient" in kumar["literature"]
    assert "0.36" in kumar["verdict"]
    lstm = _row(settled, "lstm")
    assert 'href="?page=recurrent"' in lstm["label_html"]
    assert '<a href="?page=recurrent" target="_top">LSTM (recurrent case)</a>' in settled.verdicts.object
    assert lstm["final_loss"] == "n/a" and lstm["group"] == "recurrent"


def test_subset_depth_and_steps_change_the_views(settled):
    page = _page()  # all cached by the module fixture: settles at once
    assert page.timings["first_result_s"] < 1.0 and not page._running
    page.model.remedies = ["relu"]
    page.settle(timeout_s=60)
    assert page.table_source.data["name"] in (["baseline", "relu"], ["relu", "baseline"])
    assert len(page.profiles.sources["kumar"].data["x"]) == 0  # deselected: emptied in place
    assert len(page.profiles.sources["relu"].data["x"]) == 10
    page.model.depth = 12
    page.settle(timeout_s=600)
    assert page._config.depth == 12
    np.testing.assert_array_equal(page.profiles.sources["baseline"].data["x"], np.arange(1, 13))
    page.model.steps = 30
    page.settle(timeout_s=600)
    assert len(page.losses.sources["relu"].data["x"]) == 30
    assert page.table_source.data["name"] in (["baseline", "relu"], ["relu", "baseline"])
    assert not page.notice.visible


def test_cached_results_are_shared_between_pages(settled):
    hits = CACHE.hits
    other = _page()
    assert CACHE.hits >= hits + 5  # baseline + 4 remedies, all from the first page's run
    assert other._results["relu"] is settled._results["relu"]


def test_with_automatic_runs_off_a_change_waits_for_run_and_says_so(settled):
    page = _page()
    page.model.auto_run = False
    page.model.depth = SMALL["depth"] + 1
    assert not page._running
    assert "press **Run lab**" in page.progress_text.object  # not the previous settings' "Measured n/n"
    assert page._config.depth == SMALL["depth"]  # the figures still hold the previous settings' results
    page.run()
    page.settle(timeout_s=600)
    assert page._config.depth == SMALL["depth"] + 1
    assert page.progress_text.object.startswith("Measured **5/5** at depth 11")


def test_settle_returns_after_the_last_result_is_drawn(monkeypatch):
    page = RemediesPage(RemediesModel(**dict(SMALL, seed=5, remedies=["relu"])), query={})
    draw = page._draw

    def slow_draw():  # a loaded machine: the worker draws long after the result is stored
        time.sleep(0.3)
        draw()

    monkeypatch.setattr(page, "_draw", slow_draw)
    page.model.steps = 30
    page.settle(timeout_s=600)
    assert len(page.losses.sources["relu"].data["x"]) == 30  # the settle once returned before this draw


def test_a_new_setting_cancels_the_running_lab():
    page = RemediesPage(RemediesModel(**dict(SMALL, seed=11, remedies=["relu", "he", "glorot"])), query={})
    page.model.seed = 12  # before the first run can finish
    page.settle(timeout_s=600)
    assert page._config.seed == 12
    assert {r.name for r in page.results()} == {"baseline", "relu", "he", "glorot"}
    # the seed-11 run stopped after the entry it was measuring when the seed changed (at most its baseline)
    old = lab.LabConfig(depth=10, width=32, steps=20, learning_rate=page.model.learning_rate, seed=11)
    assert [n for n in ("relu", "he", "glorot") if CACHE.get(old, n) is not None] == []


def test_veit_view_binomial_paths_and_short_gradient_paths():
    page = RemediesPage(RemediesModel(**dict(SMALL, remedies=[], veit_blocks=12)), query={})
    page.settle(timeout_s=600)
    data = page.veit_source.data
    n = 12
    np.testing.assert_array_equal(data["k"], np.arange(n + 1))
    # Binomial(n, 1/2): C(n, k) / 2^n, computed here independently of the engine.
    np.testing.assert_allclose(data["paths"], [math.comb(n, k) / 2**n for k in range(n + 1)], rtol=1e-12)
    share = np.asarray(data["gradient"])
    assert np.isfinite(share).all() and share.sum() == pytest.approx(1.0, abs=1e-9)
    # Veit et al. 2016: the gradient comes from short paths, far below the typical path length n/2.
    assert float((share * np.arange(n + 1)).sum()) < n / 2
    page.model.veit_blocks = 5
    page.settle(timeout_s=600)
    assert len(page.veit_source.data["k"]) == 6


def test_default_page_measures_what_the_server_compiles_at_start_up():
    # app/warmup.py compiles lab.warm_up(LabConfig()): the page's defaults must be that config, or the first
    # student of a class would wait minutes for XLA
    assert RemediesModel().config() == lab.LabConfig()


def test_bad_link_values_give_notices():
    query = {
        "remedies": "relu,magic,kumar",
        "depth": "500",
        "width": "7",
        "steps": "25",
        "profile": "sideways",
        "auto_run": "false",
    }
    page = RemediesPage(RemediesModel(), query=query)
    m = page.model
    assert m.remedies == ["relu", "kumar"] and m.depth == lab.MAX_LAB_DEPTH and m.width == lab.LabConfig.width
    assert m.steps == 20 and m.profile == "after training"
    text = page.notices.text
    assert page.notice.visible and text.startswith("Link settings adjusted")
    for part in (
        "'magic'",
        "depth=500 is out of range",
        "width='7'",
        "steps=25 is not a multiple of 10",
        "profile='sideways'",
    ):
        assert part in text, part
    assert len(page.query_notices) == 5
    assert not page._running and "press **Run lab**" in page.progress_text.object  # auto_run=false: nothing ran
    only_bad = RemediesPage(RemediesModel(), query={"remedies": "nothing", "auto_run": "false"})
    assert only_bad.model.remedies == page_mod.DEFAULT_REMEDIES and "'nothing'" in only_bad.notices.text
    everything = RemediesPage(RemediesModel(), query={"remedies": "all", "auto_run": "false"})
    assert everything.model.remedies == list(page_mod.REMEDY_NAMES) and not everything.query_notices


def test_parse_and_format_of_the_remedy_list():
    assert page_mod.parse_remedies(" kumar , relu ") == (["relu", "kumar"], None)  # the lab's order
    assert page_mod.parse_remedies("") == ([], None)  # the baseline alone
    assert page_mod.parse_remedies("baseline,he") == (["he"], None)
    assert page_mod.format_query_value(["relu", "kumar"]) == "relu,kumar"  # the URL mirror's formatter
    assert page_mod.parse_remedies(page_mod.format_query_value(["relu", "kumar"])) == (["relu", "kumar"], None)


def test_non_finite_values_are_marked_not_crashing():
    lines = page_mod.MultiLine("t", "layer", "norm")
    n = lines.update(
        {
            "baseline": (np.arange(1, 5), np.array([1e-3, 0.0, np.inf, 1.0])),
            "relu": (np.arange(1, 5), np.array([np.nan, 1.0, 2.0, 3.0])),
        }
    )
    assert n == 3
    marks = lines.marks.data
    assert sorted(marks["kind"]) == ["overflow", "overflow", "underflow"]
    assert max(marks["y"]) == pytest.approx(30.0) and min(marks["y"]) == pytest.approx(1e-4)  # a decade outside
    assert np.isnan(lines.sources["baseline"].data["y"][1:3]).all()


def test_page_protocol():
    page = page_spec("remedies").build({"auto_run": "false", "remedies": ""})
    assert isinstance(page, RemediesPage) and page.query_notices == []
    assert list(page.figures()) == ["gradient-profiles", "loss-curves", "ranking", "veit-path-lengths"]
    assert page.panel() is not None


def test_settle_times_out_with_a_clear_message(monkeypatch):
    page = RemediesPage(RemediesModel(**dict(SMALL, remedies=[])), query={"auto_run": "false"})
    page.settle(timeout_s=600)
    monkeypatch.setattr(page, "_complete", lambda: False)
    page._running = True
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="did not finish"):
        page.settle(timeout_s=0.3)
    assert time.perf_counter() - t0 < 5
