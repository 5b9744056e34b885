"""Mirror a page model's parameters in the URL query, so a link reproduces an exact configuration.

Each parameter is read on its own (``pn.state.location.sync`` drops the whole query when one value is bad):
out-of-range numbers are clamped, malformed values are ignored, and every such fix is reported back as a notice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from urllib.parse import unquote

import panel as pn
import param

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_value(p: param.Parameter, raw: str):
    """(value, notice or None) for one raw query string; value None means "ignored"."""
    name = p.name
    text = unquote(raw).strip()
    if isinstance(p, param.Boolean):
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE, None
        return None, f"ignored {name}={text!r}: expected true or false"
    if isinstance(p, param.Selector):
        for obj in p.objects:
            if str(obj) == text:
                return obj, None
        number = _as_float(text)  # the mirror writes floats with %g: "1" must select 1.0 again
        for obj in p.objects:
            if number is not None and isinstance(obj, (int, float)) and not isinstance(obj, bool) and obj == number:
                return obj, None
        options = ", ".join(str(o) for o in p.objects)
        return None, f"ignored {name}={text!r}: choose one of {options}"
    if isinstance(p, param.Number):  # Integer is a Number
        try:
            value = float(text)
        except ValueError:
            return None, f"ignored {name}={text!r}: not a number"
        if not math.isfinite(value):
            return None, f"ignored {name}={text!r}: not a finite number"
        lo, hi = p.bounds or (None, None)
        clamped = min(max(value, lo if lo is not None else value), hi if hi is not None else value)
        if clamped != value:
            clamped = int(round(clamped)) if isinstance(p, param.Integer) else clamped
            return clamped, f"{name}={text} is out of range [{lo}, {hi}]: using {clamped}"
        if isinstance(p, param.Integer) and not value.is_integer():
            return int(round(value)), f"{name}={text} is not a whole number: using {int(round(value))}"
        return (int(value) if isinstance(p, param.Integer) else value), None
    return None, f"ignored {name}: not settable from the URL"


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def apply_query(model: param.Parameterized, names: Iterable[str], query: dict[str, str]) -> list[str]:
    """Set ``model``'s parameters from ``query`` (name -> raw string); returns the notices."""
    notices, values = [], {}
    for name in names:
        if name not in query:
            continue
        value, notice = parse_value(model.param[name], query[name])
        if notice:
            notices.append(notice)
        if value is not None:
            values[name] = value
    if values:
        model.param.update(**values)
    return notices


def session_query() -> dict[str, str]:
    """The query arguments of the current server session (empty outside a server)."""
    args = getattr(pn.state, "session_args", None) or {}
    out = {}
    for key, vals in args.items():
        if vals:
            v = vals[-1]
            out[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return out


def mirror_to_url(model: param.Parameterized, names: Iterable[str]) -> None:
    """Keep the browser's URL query in step with ``model`` (no-op outside a server session)."""
    location = pn.state.location
    if location is None:
        return
    names = list(names)

    def push(*events):
        location.update_query(**{e.name: format_query_value(e.new) for e in events})

    model.param.watch(push, names)


def format_query_value(value) -> str:
    """A control's value as the URL shows it; reading it back (``parse_value``) gives exactly the same value.

    Floats are written short (``1.01``) when that is the same double, in full otherwise: a slider moved by the
    keyboard may hold ``1.0099999999999998``, and a shared link must reproduce the exact state (issue 6)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = f"{value:.6g}"
        return short if float(short) == value else repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(format_query_value(v) for v in value)
    return str(value)
