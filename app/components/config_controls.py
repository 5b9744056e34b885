"""A page control read from a config field's bound (``vgp_core.bounds``): its default and its range or choices
are declared once, on the engine's config dataclass, and the page's ``param`` model only adds a description.

References:
  param documentation, "Parameter types" (``Integer``, ``Number``, ``Boolean``, ``Selector``; ``bounds``).
"""

from __future__ import annotations

import param

from vgp_core.bounds import Bound


def control(bound: Bound, *, doc: str, **overrides) -> param.Parameter:
    """The ``param`` parameter for one config field.

    Args:
      bound: the field's bound (``vgp_core.bounds.of(Config)[name]``).
      doc: the control's description (its tooltip and the page's help).
      **overrides: other keyword arguments of the parameter (``step``), or a narrower ``bounds``/``objects``
        than the bound offers.

    Returns:
      ``param.Integer``/``Number`` (default and ``bound.offered``), ``param.Boolean`` (a flag) or
      ``param.Selector`` (default and choices, in the bound's order).
    """
    if bound.kind == "choice":
        kind, values = param.Selector, {"objects": list(bound.choices)}
    elif bound.kind == "flag":
        kind, values = param.Boolean, {}
    elif bound.kind in ("int", "float"):
        kind, values = (param.Integer if bound.kind == "int" else param.Number), {"bounds": bound.offered}
    else:
        raise ValueError(f"no control for a {bound.kind!r} field")
    return kind(**{"default": bound.default, **values, **overrides}, doc=doc)
