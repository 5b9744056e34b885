"""Bounds declared once: a config dataclass's field says its default, its valid range (or choices) and the range an
interface offers; ``validate`` checks an instance against them and the app's controls read them.

A field is declared with :func:`integer`, :func:`real`, :func:`flag`, :func:`choice` or :func:`sequence` (a
``dataclasses.field`` carrying a :class:`Bound` in its metadata); ``__post_init__`` calls :func:`validate`;
:func:`of` gives the bounds of a config class by field name, e.g. ``of(RNNConfig)["T"].soft``.

References:
  Python documentation, ``dataclasses.field`` (``metadata``) and ``dataclasses.fields``.
  param documentation, "Parameter types": ``param.Number(bounds=..., softbounds=...)`` (the hard/soft split
  mirrored here: ``low``/``high`` are what the engine accepts, ``soft`` what a slider offers).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError, check_choice, check_float, check_int


@dataclasses.dataclass(frozen=True)
class Bound:
    """What one config field accepts.

    ``kind``: "int", "float", "flag" (a bool), "choice" or "sequence". ``low``/``high``: the closed valid range
    (numbers; for a sequence, of its length). ``choices``: the valid values (choice). ``aliases``: other names a
    choice accepts, and the value each stands for. ``soft``: the sub-range an interface offers by default (None: all
    of [low, high]). ``item``: the bound of each element (sequence). ``repeats``: what a sequence does with a
    repeated element, "error" or "drop"; ``ordered``: whether it is sorted.
    ``label``: the field's name in error messages. ``default``: the field's default.
    """

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    soft: tuple[float, float] | None = None
    label: str | None = None
    aliases: tuple[tuple[str, str], ...] = ()
    item: Bound | None = None
    repeats: str = "error"
    ordered: bool = False

    @property
    def offered(self) -> tuple[float, float]:
        """The range an interface offers: ``soft``, else ``(low, high)``."""
        return self.soft if self.soft is not None else (self.low, self.high)

    def check(self, name: str, value):
        """``value`` converted and checked (``ConfigError`` naming the field otherwise)."""
        name = self.label or name
        if self.kind == "int":
            return check_int(name, value, self.low, self.high)
        if self.kind == "float":
            return check_float(name, value, self.low, self.high)
        if self.kind == "flag":
            if value not in (True, False, 0, 1):  # 0/1 from a URL or JSON; never a string
                raise ConfigError(f"{name} must be true or false, got {value!r}")
            return bool(value)
        if self.kind == "sequence":
            return self._check_sequence(name, value)
        aliases = dict(self.aliases)
        if isinstance(value, str) and value in aliases:
            return aliases[value]
        return check_choice(name, value, self.choices)

    def _check_sequence(self, name: str, values) -> tuple:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ConfigError(f"{name} must be a list, got {values!r}")
        if not self.low <= len(values) <= self.high:
            raise ConfigError(f"{name} must hold {self.low} to {self.high} values, got {values!r}")
        values = tuple(self.item.check(self.item.label or name, v) for v in values)
        unique = tuple(dict.fromkeys(values))
        if len(unique) != len(values) and self.repeats == "error":
            raise ConfigError(f"{name} has repeated values: {values!r}")
        return tuple(sorted(unique)) if self.ordered else unique


def _field(bound: Bound):
    return dataclasses.field(default=bound.default, metadata={"bound": bound})


def _check_soft(low, high, soft):
    if soft is not None and not low <= soft[0] <= soft[1] <= high:
        raise ValueError(f"soft range {soft} must lie within [{low}, {high}]")


def integer(default: int, low: int, high: int, *, soft: tuple[int, int] | None = None, label: str | None = None):
    """A config field holding an integer in [low, high].

    Args:
      default: the field's default.
      low: the smallest valid value.
      high: the largest valid value.
      soft: the sub-range an interface offers (default: all of [low, high]).
      label: the field's name in error messages (default: the attribute name).

    Returns:
      A ``dataclasses.field`` whose metadata ``"bound"`` is the :class:`Bound`.

    References:
      Python documentation, ``dataclasses.field``.
    """
    _check_soft(low, high, soft)
    return _field(Bound("int", default, low, high, soft=soft, label=label))


def real(default: float, low: float, high: float, *, soft: tuple[float, float] | None = None, label: str | None = None):
    """A config field holding a finite float in [low, high].

    Args:
      default: the field's default.
      low: the smallest valid value.
      high: the largest valid value.
      soft: the sub-range an interface offers (default: all of [low, high]).
      label: the field's name in error messages (default: the attribute name).

    Returns:
      A ``dataclasses.field`` whose metadata ``"bound"`` is the :class:`Bound`.

    References:
      Python documentation, ``dataclasses.field``.
    """
    _check_soft(low, high, soft)
    return _field(Bound("float", default, low, high, soft=soft, label=label))


def choice(default: str, choices: Sequence[str], *, aliases: dict[str, str] | None = None, label: str | None = None):
    """A config field holding one of ``choices``.

    Args:
      default: the field's default (one of ``choices``).
      choices: the valid values, in the order an interface lists them.
      aliases: other names accepted, and the choice each stands for (e.g. a paper's name for an initializer).
      label: the field's name in error messages (default: the attribute name).

    Returns:
      A ``dataclasses.field`` whose metadata ``"bound"`` is the :class:`Bound`.

    References:
      Python documentation, ``dataclasses.field``.
    """
    if default not in choices:
        raise ValueError(f"default {default!r} is not one of {tuple(choices)}")
    aliases = tuple((aliases or {}).items())
    if any(target not in choices for _, target in aliases):
        raise ValueError(f"aliases {dict(aliases)} must stand for one of {tuple(choices)}")
    return _field(Bound("choice", default, choices=tuple(choices), label=label, aliases=aliases))


def sequence(
    default: tuple,
    item,
    *,
    length: tuple[int, int] = (1, 10**6),
    repeats: str = "error",
    ordered: bool = False,
    label: str | None = None,
):
    """A config field holding a tuple of values, each checked against ``item``.

    Args:
      default: the field's default (a tuple).
      item: a field made by :func:`integer`, :func:`real` or :func:`choice`: the bound of every element (its
        ``default`` is unused; its ``label`` names an element in error messages).
      length: the fewest and most elements.
      repeats: "error" (a repeated element is a ``ConfigError``) or "drop" (it is kept once, first place).
      ordered: sort the elements.
      label: the field's name in error messages (default: the attribute name).

    Returns:
      A ``dataclasses.field`` whose metadata ``"bound"`` is the :class:`Bound`; a list given for it is stored as a
      tuple.

    References:
      Python documentation, ``dataclasses.field``.
    """
    if repeats not in ("error", "drop"):
        raise ValueError(f"repeats must be 'error' or 'drop', got {repeats!r}")
    bound = Bound("sequence", tuple(default), *length, item=item.metadata["bound"], repeats=repeats, ordered=ordered)
    return _field(dataclasses.replace(bound, label=label))


def flag(default: bool, *, label: str | None = None):
    """A config field holding a bool (True, False, 1 or 0 accepted).

    Args:
      default: the field's default.
      label: the field's name in error messages (default: the attribute name).

    Returns:
      A ``dataclasses.field`` whose metadata ``"bound"`` is the :class:`Bound`.

    References:
      Python documentation, ``dataclasses.field``.
    """
    return _field(Bound("flag", bool(default), label=label))


def validate(instance) -> None:
    """Check and convert every bounded field of a frozen config dataclass in place (call from ``__post_init__``).

    Args:
      instance: a dataclass instance whose fields were declared with :func:`integer`, :func:`real`, :func:`flag`
        or :func:`choice` (other fields are left alone).

    Returns:
      None. Raises ``ConfigError`` naming the first invalid field, its value and the accepted range.

    References:
      Python documentation, ``dataclasses.fields``; ``object.__setattr__`` is how a frozen dataclass's
      ``__post_init__`` assigns (``dataclasses``, "Frozen instances").
    """
    for f in dataclasses.fields(instance):
        bound = f.metadata.get("bound")
        if bound is not None:
            object.__setattr__(instance, f.name, bound.check(f.name, getattr(instance, f.name)))


@functools.cache
def of(config_class: type) -> dict[str, Bound]:
    """The bounds of a config dataclass, by field name.

    Args:
      config_class: a dataclass whose fields were declared with :func:`integer`, :func:`real` or :func:`choice`.

    Returns:
      ``{field name: Bound}`` for every bounded field.

    References:
      Python documentation, ``dataclasses.fields``.
    """
    return {f.name: f.metadata["bound"] for f in dataclasses.fields(config_class) if "bound" in f.metadata}
