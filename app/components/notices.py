"""The notice every page shows above its plots, and the guard that turns a failed update into that notice."""
from __future__ import annotations

import logging

import panel as pn

from vgp_core import ConfigError

log = logging.getLogger(__name__)


class NoticeMixin:
    """For page classes: ``self.notice`` (a hidden warning Alert until something needs saying), ``_show_notice``
    and ``_guard``, which runs an update so that a ConfigError or any failure becomes a notice — never a traceback
    in the browser or a dead view."""

    notice: pn.pane.Alert

    def _make_notice(self) -> pn.pane.Alert:
        self.notice = pn.pane.Alert("", alert_type="warning", visible=False, margin=(0, 5))
        return self.notice

    def _show_notice(self, text: str):
        self.notice.object = text
        self.notice.visible = bool(text)

    def _guard(self, fn, *args):
        try:
            fn(*args)
            return True
        except ConfigError as exc:
            self._show_notice(f"Invalid setting: {exc}")
        except Exception as exc:  # pragma: no cover - defensive: keep the session alive
            log.exception("update failed")
            self._show_notice(f"Could not update the plots: {exc}")
        return False
