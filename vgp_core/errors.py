"""Errors raised by vgp_core for invalid configurations.

Every public entry point validates its inputs and raises :class:`ConfigError` with a message that names the
offending field, the value received and the accepted range, so that notebooks get a clear message and the app
can show it as a notice instead of a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class ConfigError(ValueError):
    """An invalid configuration value (wrong type, out of range, unknown name)."""


def check_int(name: str, value, lo: int, hi: int) -> int:
    """``value`` as an int in [lo, hi], or ConfigError.

    Args:
      name: the field's name in the message.
      value: an int, or a float with an integral value (bools are refused).
      lo: the smallest valid value.
      hi: the largest valid value.

    Returns:
      ``int(value)``. Raises ``ConfigError`` naming the field, the value and the range otherwise.

    References:
      Python documentation, "Numeric types" (``float.is_integer``; ``bool`` is a subclass of ``int``).
    """
    whole = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not whole or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {v}")
    return v


def check_float(name: str, value, lo: float, hi: float) -> float:
    """``value`` as a finite float in [lo, hi], or ConfigError.

    Args:
      name: the field's name in the message.
      value: anything ``float()`` accepts (bools are refused).
      lo: the smallest valid value.
      hi: the largest valid value.

    Returns:
      ``float(value)``. Raises ``ConfigError`` for a non-number, NaN, ±inf or a value out of range.

    References:
      IEEE 754-2019, Sec. 6 (NaN and infinities, which fail every range comparison or lie outside every finite range).
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number in [{lo}, {hi}], got {value!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number in [{lo}, {hi}], got {value!r}")
    if not lo <= v <= hi:
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {v:g}")
    return v


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, or ConfigError listing them.

    Args:
      name: what is chosen, in the message (e.g. "activation").
      value: the chosen name.
      choices: the valid names, in the order the message lists them.

    Returns:
      ``value``. Raises ``ConfigError`` otherwise.

    References:
      None beyond this module: the check behind every registry of ``vgp_core`` (activations, initializers, cells).
    """
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value
