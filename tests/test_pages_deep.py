"""app/pages/deep.py without a browser: every control moves its views, a move empties the old run's views, a bad
value gives a notice."""

import numpy as np
import pytest


def test_deep_page_every_control_changes_its_views():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    model = DeepNetworkModel(auto_train=False, depth=12, width=32)
    page = DeepNetworkPage(model, query={})
    page.panel()

    def snapshot():
        return {
            name: {k: np.asarray(v).tobytes() for k, v in src.data.items() if k != "image"}
            | {"image": np.asarray(src.data["image"][0]).tobytes() if "image" in src.data else b""}
            for name, src in (
                ("profile", page.profile.source),
                ("stats", page.stats.source),
                ("sweep", page.sweep_map.source),
            )
        }

    for name, value in [
        ("depth", 13),
        ("width", 64),
        ("activation", "relu"),
        ("init", "he_normal"),
        ("gain", 1.3),
        ("bias_std", 0.2),
        ("residual", True),
        ("batchnorm", True),
        ("seed", 3),
    ]:
        before = snapshot()
        setattr(model, name, value)
        assert snapshot()["profile"] != before["profile"], name
        if name != "gain":
            assert snapshot()["sweep"] != before["sweep"], name
    assert page.gain_marker.location == pytest.approx(1.3)
    # mean-field text disappears (honestly) with batch norm
    assert "does not apply" in page.theory_text.object


def test_deep_page_a_move_empties_the_old_runs_views_at_once_and_auto_train_off_keeps_them():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    page = DeepNetworkPage(DeepNetworkModel(depth=4, width=16, steps=20, seed=21), query={})
    page.settle(timeout_s=300)
    assert len(page.loss_source.data["step"]) == 20 and len(page.train_map.source.data["image"]) == 1
    page.model.auto_train = False  # the run shown is still this settings' run: it stays
    assert len(page.loss_source.data["step"]) == 20 and page._trace is not None
    page.model.learning_rate = 0.3  # its run is now another setting's: gone at once, nothing new starts
    for source in (page.loss_source, page.update_source, page.train_map.source):
        assert all(len(v) == 0 for v in source.data.values()), source
    assert "paused" in page.progress_text.object
    page.model.learning_rate = 0.01
    page.model.auto_train = True  # its run again, shown at once from the shared results
    assert len(page.loss_source.data["step"]) == 20
    page.model.auto_train = False  # (no new run that could stream in before the check)
    page.model.depth = 5  # a structural move: the old network's run goes too
    assert len(page.loss_source.data["step"]) == 0 and len(page.train_map.source.data["image"]) == 0


def test_deep_page_invalid_programmatic_value_gives_notice():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    page = DeepNetworkPage(DeepNetworkModel(auto_train=False, depth=5, width=16), query={"depth": "0"})
    assert page.model.depth == 1
    assert page.notice.visible and "depth=0 is out of range" in page.notices.text


def test_deep_page_a_move_to_measured_settings_shows_their_jacobian_at_once():
    """Served (``defer``), a move shows the fast profile and measures the Jacobian SVDs once the controls rest; a
    move to settings whose measurement another session (or this one) already made shows it at once and measures
    nothing: the step frames are then sent once, not again when a second profile arrives."""
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    def served_page():
        return DeepNetworkPage(DeepNetworkModel(depth=5, width=16, steps=10, seed=23, auto_train=False), defer=True)

    first = served_page()
    assert not np.isfinite(first._profile.jacobian_sv_mean).any()  # pending: measured after the move
    first.settle(timeout_s=300)
    measured = first._profile
    assert np.isfinite(measured.jacobian_sv_mean).all()

    second = served_page()
    assert second._profile is measured  # at once, from the shared results
    second.settle(timeout_s=300)
    assert second._profile is measured  # no second measurement replaced it (and re-sent the frames)
