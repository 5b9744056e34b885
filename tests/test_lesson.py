"""Issue 15: lesson mode. Every step of app/lessons/ opens the state it describes on an existing page, its
question's control exists on that page, ``?lesson=N`` is read like every link value, and its texts are escaped."""

from __future__ import annotations

import pytest

from app.components.lesson import (
    LessonError,
    lesson_html,
    lesson_step,
    load_lesson,
    page_query,
    parse_step,
)
from app.components.url_state import parse_value
from app.pages import PAGES, page_spec

STEPS = load_lesson()


def test_the_lesson_tells_the_whole_story_in_order():
    assert len(STEPS) >= 6
    pages = [s.page for s in STEPS]
    assert pages[0] == "deep" and "recurrent" in pages and "cliff" in pages
    assert pages.index("cliff") > pages.index("recurrent") > pages.index("deep")  # deep, RNN, cliff, LSTM
    assert STEPS[-1].state.get("cell") == "lstm"
    assert [s.number for s in STEPS] == list(range(1, len(STEPS) + 1))


@pytest.mark.parametrize("step", STEPS, ids=lambda s: f"{s.number}-{s.page}")
def test_every_step_state_and_control_exist_on_its_page(step):
    assert step.page in [p.slug for p in PAGES]
    page_class = page_spec(step.page).page_class()
    model = page_class.Model()
    assert step.control in page_class.URL_PARAMS, (step.control, page_class.URL_PARAMS)
    for name, raw in step.state.items():
        assert name in page_class.URL_PARAMS, name
        value, notice = parse_value(model.param[name], raw)
        assert notice is None and value is not None, (name, raw, notice)


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS, ids=lambda s: f"{s.number}-{s.page}")
def test_every_step_opens_the_state_it_describes(step):
    page = page_spec(step.page).build(query=page_query(step, {}))
    try:
        assert page.query_notices == []
        for name, raw in step.state.items():
            expected, _ = parse_value(page.model.param[name], raw)
            assert getattr(page.model, name) == expected, name
        assert step.control in page.model.param
    finally:
        page.close()


def test_lesson_link_values_are_clamped_or_refused_with_a_notice():
    assert lesson_step({}, STEPS) == (None, None)
    assert lesson_step({"lesson": "3"}, STEPS) == (STEPS[2], None)
    step, notice = lesson_step({"lesson": "99"}, STEPS)
    assert step is STEPS[-1] and "out of range" in notice
    step, notice = lesson_step({"lesson": "<b>x</b>"}, STEPS)
    assert step is None and "ignored" in notice


def test_a_links_own_values_win_over_the_step_state():
    step = STEPS[0]
    query = page_query(step, {"lesson": "1", "depth": "30", "page": "recurrent"})
    assert query["depth"] == "30" and "lesson" not in query and "page" not in query
    assert query["activation"] == step.state["activation"]


def test_lesson_texts_are_escaped_and_bad_files_named():
    step = parse_step(1, 'title="<script>x</script>"\npage="deep"\ncontrol="depth"\ntext="a & b"\nquestion="q?"\n')
    out = lesson_html(step, 2)
    assert "<script>" not in out and "&lt;script&gt;" in out and "a &amp; b" in out
    assert 'href="?lesson=2"' in out and "previous" not in out
    with pytest.raises(LessonError, match="'question'"):
        parse_step(1, 'title="t"\npage="deep"\ncontrol="depth"\ntext="x"\n', "bad.toml")
    with pytest.raises(LessonError, match="bad.toml: not valid TOML"):
        parse_step(1, "title = ", "bad.toml")
