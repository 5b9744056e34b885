"""The Loss-cliff page's replay tables: what the browser cuts (``replay_full``) is what the page's own draw shows."""

from __future__ import annotations

import html

import numpy as np
import pytest

from app.pages.cliff import LossCliffPage


def test_the_replay_table_holds_the_whole_paths_and_every_steps_text():
    page = LossCliffPage(query={})
    n = int(page.model.descent_steps)
    full = page.replay_full.data
    assert all(len(column) == n + 1 for column in full.values())
    page.model.shown_step = 3
    for key in ("plain", "clipped"):  # the Python draw is the browser's cut (REPLAY_JS) at step 3
        np.testing.assert_array_equal(page.path1[key].data["b"], full[f"b1_{key}"][:4])
        np.testing.assert_array_equal(page.path2[key].data["w"], full[f"w2_{key}"][:4])
    assert page.replay_text.object.startswith(f"<b>Replay: step 3 of {n}</b>")
    assert html.unescape(full["line"][3]) == page.replay_text.object  # the browser's copy, as Panel sends it
    assert page.step_markers[0].location == 3
    assert page.replay_full.data is full  # a replay move sends no new table

    page.model.b = -2.45  # a new descent: a new table, starting at the new b
    assert page.replay_full.data is not full
    assert page.replay_full.data["b1_plain"][0] == pytest.approx(-2.45)
