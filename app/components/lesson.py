"""Lesson mode (``?lesson=N``): a guided walk through the vanishing and exploding gradient problem, one step per
plain TOML file in ``app/lessons/`` (a teacher edits or translates them without touching code; see the README
there). A step names its page, the page's state (URL parameters, applied through the page's own URL handling, so a
bad value gets the usual notice), a short text and one question answered by moving one control.

``lesson_step(query)`` reads ``?lesson=`` (out-of-range and malformed values clamped or refused with a notice);
``page_query(step, query)`` is the query the page is built with (the link's own parameters win: a student's moves,
mirrored in the URL, survive a reload); ``lesson_panel(step, count)`` is what the site shows above the page, every
text HTML-escaped.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import tomllib
from collections.abc import Mapping
from pathlib import Path

import panel as pn

#: where the lesson's steps live, one TOML file each, read in file-name order.
LESSON_DIR = Path(__file__).resolve().parents[1] / "lessons"
#: css class of the lesson panel.
LESSON_CLASS = "vgp-lesson"


@dataclasses.dataclass(frozen=True)
class LessonStep:
    """One step: ``number`` (1-based), ``title``, ``page`` (a page slug), ``state`` (URL parameter → value),
    ``control`` (the URL parameter the question asks to move), ``text`` and ``question`` (plain text)."""

    number: int
    title: str
    page: str
    state: Mapping[str, str]
    control: str
    text: str
    question: str


class LessonError(ValueError):
    """A lesson file that cannot be used (the message names the file and the field)."""


def parse_step(number: int, source: str, name: str = "<lesson>") -> LessonStep:
    """A step from one TOML file's text; ``LessonError`` naming ``name`` and the field when a field is missing."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise LessonError(f"{name}: not valid TOML: {error}") from error
    fields = {}
    for field in ("title", "page", "control", "text", "question"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise LessonError(f"{name}: '{field}' must be a non-empty text")
        fields[field] = " ".join(value.split())  # TOML's multi-line strings: one paragraph
    state = data.get("state", {})
    if not isinstance(state, dict):
        raise LessonError(f"{name}: [state] must be a table of URL parameters")
    return LessonStep(number=number, state={str(k): str(v) for k, v in state.items()}, **fields)


@functools.cache
def load_lesson(directory: Path = LESSON_DIR) -> tuple[LessonStep, ...]:
    """Every step, in file-name order (read once per process)."""
    files = sorted(directory.glob("*.toml"))
    return tuple(parse_step(i + 1, f.read_text(encoding="utf-8"), f.name) for i, f in enumerate(files))


def lesson_step(query: Mapping[str, str], steps: tuple[LessonStep, ...]) -> tuple[LessonStep | None, str | None]:
    """(the step ``?lesson=`` asks for, or None; a notice or None). Out of range: the nearest step, with a notice."""
    raw = query.get("lesson")
    if raw is None or not steps:
        return None, None
    try:
        number = int(str(raw).strip())
    except ValueError:
        return None, f"ignored lesson={raw!r}: expected a step number 1–{len(steps)}"
    clamped = min(max(number, 1), len(steps))
    notice = None if clamped == number else f"lesson={number} is out of range [1, {len(steps)}]: using {clamped}"
    return steps[clamped - 1], notice


def page_query(step: LessonStep, query: Mapping[str, str]) -> dict[str, str]:
    """The query the step's page is built with: the step's state, then the link's own parameters over it."""
    return {**step.state, **{k: v for k, v in query.items() if k not in ("lesson", "page")}}


def lesson_html(step: LessonStep, count: int, display_query: str = "") -> str:
    """The step as HTML: title, text, question (naming its control), links to the previous and next steps.
    Every text from the lesson files is escaped; ``display_query`` (``&theme=dark``…) is the site's own."""

    def link(n: int, label: str) -> str:
        return f'<a href="?lesson={n}{html.escape(display_query)}">{label}</a>'

    nav = []
    if step.number > 1:
        nav.append(link(step.number - 1, "← previous step"))
    if step.number < count:
        nav.append(link(step.number + 1, "next step →"))
    e = functools.partial(html.escape, quote=False)
    return (
        f'<section aria-label="Lesson step {step.number} of {count}">'
        f"<h2 style='margin:0.2em 0;font-size:1.2em'>Lesson, step {step.number} of {count}: {e(step.title)}</h2>"
        f"<p style='margin:0.3em 0'>{e(step.text)}</p>"
        f"<p style='margin:0.3em 0'><b>Question:</b> {e(step.question)} "
        f"<span style='opacity:0.8'>(control: <code>{e(step.control)}</code>)</span></p>"
        f"<nav aria-label='Lesson steps'>{' · '.join(nav)}</nav></section>"
    )


def lesson_panel(step: LessonStep, count: int, display_query: str = "") -> pn.pane.HTML:
    """The lesson's box above the page."""
    return pn.pane.HTML(
        lesson_html(step, count, display_query),
        css_classes=[LESSON_CLASS],
        sizing_mode="stretch_width",
        margin=(5, 10),
        styles={
            "border-left": "4px solid #1a73e8",
            "padding": "0 10px",
            "background": "var(--panel-surface-color, #f4f7fb)",
        },
    )
