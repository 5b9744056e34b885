"""The notices every page shows above its plots: keyed warnings, always shown as plain text.

A notice often repeats what a visitor typed or a link carried (``ignored activation='<img src=x onerror=…>'``).
Such text is hostile until proven otherwise, so it is never rendered as markup: ``literal`` turns any text into
Markdown source that displays exactly that text, and every notice (the page's and the site's) goes through it.
"""

from __future__ import annotations

import html
import logging
import re

import panel as pn

from vgp_core import ConfigError

log = logging.getLogger(__name__)

# Markdown's inline punctuation (CommonMark §2.4, "Backslash escapes"): escaped so that no link, image, emphasis
# or code span can be formed from a visitor's text. ``<``, ``>`` and ``&`` become HTML entities instead.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def literal(text: str) -> str:
    """Markdown source that renders as ``text`` itself: no HTML element, link or formatting can come out of it.

    Args:
      text: any text, e.g. a value copied from a URL query.

    Returns:
      The text with ``& < >`` as HTML entities, Markdown punctuation backslash-escaped and line breaks kept.
    """
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(str(text), quote=False))
    return "  \n".join(escaped.splitlines())  # one Markdown line break per line of the text


class Notices:
    """Warnings shown in one Alert, each under a key (``"link"``, ``"setting"``, ``"training"``, …) so that a
    page replaces or clears exactly its own message. Shown in the order the keys were first set."""

    def __init__(self, alert_type: str = "warning", **alert_params):
        self._messages: dict[str, str] = {}
        # linkify off: an address in a visitor's text stays text, not a link
        self.pane = pn.pane.Alert(
            "", alert_type=alert_type, visible=False, margin=(0, 5), renderer_options={"linkify": False}, **alert_params
        )

    def set(self, key: str, text: str) -> None:
        """Show ``text`` (plain text) under ``key``; an empty text clears it."""
        if text:
            self._messages[key] = str(text)
        else:
            self._messages.pop(key, None)
        self._render()

    def clear(self, *keys: str) -> None:
        """Remove the notices under ``keys`` (all of them when none is given)."""
        for key in keys or list(self._messages):
            self._messages.pop(key, None)
        self._render()

    def get(self, key: str) -> str | None:
        """The plain text shown under ``key``, or None."""
        return self._messages.get(key)

    @property
    def text(self) -> str:
        """Every notice's plain text, one per line."""
        return "\n".join(self._messages.values())

    def _render(self) -> None:
        source = "  \n".join(literal(t) for t in self._messages.values())
        if source != self.pane.object:
            self.pane.object = source
        self.pane.visible = bool(source)


class NoticeMixin:
    """For page classes: ``self.notices`` (keyed, plain-text warnings; its pane is ``self.notice``) and ``_guard``,
    which runs an update so that a ConfigError or any failure becomes a notice — never a traceback in the browser
    or a dead view."""

    notices: Notices
    notice: pn.pane.Alert

    def _make_notice(self) -> pn.pane.Alert:
        self.notices = Notices()
        self.notice = self.notices.pane
        return self.notice

    def _guard(self, fn, *args) -> bool:
        try:
            fn(*args)
            return True
        except ConfigError as exc:
            self.notices.set("setting", f"Invalid setting: {exc}")
        except Exception as exc:  # pragma: no cover - defensive: keep the session alive
            log.exception("update failed")
            self.notices.set("failure", f"Could not update the plots: {exc}")
        return False
