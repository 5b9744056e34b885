"""Issue 15 in a real browser: ``?lesson=1`` opens the Deep page in the step's state with the step's text and
question above it, and a figure's text alternative (the gradient profile's sentence) follows the data when a
control moves by keyboard."""

from __future__ import annotations

import time

import pytest

from app.components.lesson import LESSON_CLASS, load_lesson

from .conftest import assert_clean, open_page, slider_handle, wait_until_quiet

pytestmark = pytest.mark.browser


def profile_sentence(page) -> str:
    return page.locator(".vgp-figure-gradient-profile").first.locator("p[role=status]").first.inner_text()


def test_lesson_step_opens_its_state_and_the_text_alternative_follows_the_data(page, app_server):
    step = load_lesson()[0]
    console, requests = [], []
    open_page(page, app_server.url + "?lesson=1", console, requests)
    wait_until_quiet(page)
    lesson = page.locator(f".{LESSON_CLASS}").first.locator("section").first  # inside the pane's shadow root
    assert step.title in lesson.inner_text() and "Question:" in lesson.inner_text()
    handle = slider_handle(page, "depth (hidden layers)")
    assert handle.get_attribute("aria-valuenow").startswith(step.state["depth"])  # the step's state
    before = profile_sentence(page)
    assert "of layer 20's: vanishing" in before, before

    handle.focus()
    handle.press("ArrowRight")  # depth 21: the sentence must name layer 21 (or say it underflowed)
    deadline = time.time() + 60
    while time.time() < deadline and profile_sentence(page) == before:
        page.wait_for_timeout(200)
    after = profile_sentence(page)
    assert after != before and "layer 21" in after, after
    assert "lesson=1" in page.url and "depth=21" in page.url  # the move is mirrored; the lesson stays
    assert_clean(console, requests, app_server)
