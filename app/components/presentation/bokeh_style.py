"""Presentation mode, its Bokeh side: ``apply_display`` re-styles figures in place (fonts, line widths, marker sizes,
palettes, colour maps, dark theme), remembering every property's base value at first sight so that toggling back
restores the page's own styling exactly.

References:
  Bokeh documentation, "Styling visual attributes" and ``bokeh.models.CustomJSTransform``; Panel's dark theme
  colours (``panel.theme.DarkTheme``).
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterable, Mapping

from bokeh.core.property.vectorization import Field, Value
from bokeh.models import (
    Annotation,
    Axis,
    ColorMapper,
    CustomJSTransform,
    GlyphRenderer,
    Grid,
    Image,
    ImageRGBA,
    Legend,
    Model,
    Plot,
    Scatter,
    Title,
)
from bokeh.models.annotations.legends import BaseColorBar
from bokeh.models.glyphs import Glyph

from .colors import (
    COLORMAPS,
    DARK_BACKGROUND,
    DARK_BORDER,
    DARK_IMAGE_BACKGROUND,
    DARK_TEXT,
    _transform,
    color_table,
    map_color,
)
from .settings import PRESENT_FONT_SCALE, PRESENT_LINE_SCALE, PRESENT_MARKER_SCALE, PRESENT_TITLE_SCALE, DisplaySettings

# ---------------------------------------------------------------------------------------------------------------
# Bokeh: apply_display
# ---------------------------------------------------------------------------------------------------------------
# model -> {property: base value} (the page's value, or the class default, when first seen).
_BASES: weakref.WeakKeyDictionary[Model, dict] = weakref.WeakKeyDictionary()
# model -> {table key: CustomJSTransform} (a model belongs to one document, so transforms are per glyph).
_TRANSFORMS: weakref.WeakKeyDictionary[Model, dict] = weakref.WeakKeyDictionary()
_PROPS_BY_CLASS: dict[type, tuple] = {}

_DARK = {
    Plot: {
        "background_fill_color": DARK_BACKGROUND,
        "border_fill_color": DARK_BORDER,
        "outline_line_color": DARK_TEXT,
        "outline_line_alpha": 0.25,
    },
    Grid: {"grid_line_color": DARK_TEXT, "grid_line_alpha": 0.25, "minor_grid_line_color": DARK_TEXT},
    Axis: {
        "axis_line_color": DARK_TEXT,
        "major_tick_line_color": DARK_TEXT,
        "minor_tick_line_color": DARK_TEXT,
        "major_label_text_color": DARK_TEXT,
        "axis_label_text_color": DARK_TEXT,
    },
    Legend: {
        "label_text_color": DARK_TEXT,
        "title_text_color": DARK_TEXT,
        "background_fill_color": DARK_BACKGROUND,
        "border_line_color": DARK_TEXT,
        "inactive_fill_color": DARK_BORDER,
    },
    BaseColorBar: {
        "title_text_color": DARK_TEXT,
        "major_label_text_color": DARK_TEXT,
        "background_fill_color": DARK_BORDER,
        "major_tick_line_color": DARK_TEXT,
        "minor_tick_line_color": DARK_TEXT,
    },
    Title: {"text_color": DARK_TEXT},
}
_DARK_IMAGE_PLOT = {
    "background_fill_color": DARK_IMAGE_BACKGROUND,
    "outline_line_color": DARK_TEXT,
    "outline_line_alpha": 1.0,
    "outline_line_width": 1.5,
}
_THEMED = tuple(_DARK)


def _props_of(cls: type) -> tuple:
    """(font-size props, dark-theme props, colour props, has line_width, has marker size) of a model class."""
    got = _PROPS_BY_CLASS.get(cls)
    if got is None:
        names = cls.properties()
        fonts = tuple(sorted(p for p in names if p.endswith("font_size")))
        dark = {}
        for base_cls, props in _DARK.items():
            if issubclass(cls, base_cls):
                dark.update(props)
        if issubclass(cls, Plot):
            dark.update({k: None for k in _DARK_IMAGE_PLOT if k not in dark})
        styled = issubclass(cls, Glyph) or (issubclass(cls, Annotation) and not issubclass(cls, _THEMED))
        colors = tuple(sorted(p for p in names if p.endswith("_color"))) if styled else ()
        line = styled and "line_width" in names
        marker = issubclass(cls, Scatter) and "size" in names
        got = _PROPS_BY_CLASS[cls] = (fonts, tuple(sorted(dark)), colors, line, marker)
    return got


def _bases(model: Model) -> dict:
    """The remembered base values of ``model``'s styled properties (recorded the first time it is seen)."""
    bases = _BASES.get(model)
    if bases is None:
        fonts, dark, colors, line, marker = _props_of(type(model))
        styled = fonts + dark + colors + (("line_width",) if line else ()) + (("size",) if marker else ())
        wanted = frozenset(styled)
        # only the styled properties are read: ``properties_with_values`` reads every property of the model
        # (~0.3 ms a model, ~60 ms of each new session's page)
        explicit = model.query_properties_with_values(lambda prop: prop.name in wanted, include_defaults=False)
        bases = {}
        for prop in styled:
            value = explicit[prop] if prop in explicit else model.lookup(prop).class_default(type(model))
            if isinstance(value, Value):
                value = value.value
            bases[prop] = value
        if isinstance(model, ColorMapper):
            bases["palette"] = tuple(model.palette)
            for prop in ("low_color", "high_color"):
                if prop in model.properties():
                    bases[prop] = getattr(model, prop)
        _BASES[model] = bases
    return bases


def _scale_font(value, factor: float):
    if not isinstance(value, str):
        return value
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(px|pt|em|rem|%)\s*", value)
    if m is None or factor == 1:
        return value
    number = float(m.group(1)) * factor
    return f"{number:.4g}{m.group(2)}"


# model -> {property: the value apply_display last assigned}: compared instead of reading properties back (a read
# of a default-valued Bokeh property validates it: ~0.1 ms each), and a field colour reads back as its bare name.
_APPLIED: weakref.WeakKeyDictionary[Model, dict] = weakref.WeakKeyDictionary()


def _same(a, b) -> bool:
    if isinstance(a, Field) or isinstance(b, Field):
        return isinstance(a, Field) and isinstance(b, Field) and a.field == b.field and a.transform is b.transform
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return tuple(a) == tuple(b)
    return a == b


def _set(model: Model, prop: str, value) -> int:
    """Assign ``value`` unless it is what the property already holds (as last assigned here, or its remembered
    base when never assigned); returns 1 for a change."""
    applied = _APPLIED.get(model)
    if applied is None:
        applied = _APPLIED[model] = {}
    current = applied[prop] if prop in applied else _BASES[model].get(prop)
    if _same(current, value):
        return 0
    setattr(model, prop, value)
    applied[prop] = value
    return 1


def _style_model(model: Model, settings: DisplaySettings, image_figure: bool) -> int:
    fonts, dark_props, colors, line, marker = _props_of(type(model))
    is_mapper = isinstance(model, ColorMapper)
    if not (fonts or dark_props or colors or line or marker or is_mapper):
        return 0
    bases = _bases(model)
    present, dark = settings.present, settings.theme == "dark"
    changed = 0
    font_scale = (PRESENT_TITLE_SCALE if isinstance(model, Title) else PRESENT_FONT_SCALE) if present else 1.0
    for prop in fonts:
        changed += _set(model, prop, _scale_font(bases[prop], font_scale))
    if dark_props:
        values = {}
        for base_cls, props in _DARK.items():
            if isinstance(model, base_cls):
                values.update(props)
        if isinstance(model, Plot) and image_figure:
            values.update(_DARK_IMAGE_PLOT)
        for prop in dark_props:
            base = bases[prop]
            value = values.get(prop, base) if dark else base
            if base is None and prop.endswith("_color"):
                value = None  # a page switched this line off (e.g. xgrid): keep it off
            changed += _set(model, prop, value)
    if colors:
        dark_lines = dark and not image_figure
        for prop in colors:
            base = bases[prop]
            if isinstance(base, Field):
                if isinstance(base.transform, Model) and not (
                    isinstance(base.transform, CustomJSTransform) and "vgp-palette" in base.transform.tags
                ):
                    continue  # the page maps this column itself
                table = color_table(settings.palette, settings.colormap, dark_lines)
                if table:
                    key = json.dumps(table, sort_keys=True)
                    cache = _TRANSFORMS.setdefault(model, {})
                    if key not in cache:
                        cache[key] = _transform(table)
                    changed += _set(model, prop, Field(base.field, transform=cache[key]))
                else:
                    changed += _set(model, prop, Field(base.field))
            elif isinstance(base, str):
                changed += _set(model, prop, map_color(base, settings.palette, settings.colormap, dark_lines))
    if line and isinstance(bases["line_width"], (int, float)):
        base = bases["line_width"]
        changed += _set(model, "line_width", base * PRESENT_LINE_SCALE if present else base)
    if marker and isinstance(bases["size"], (int, float)):
        base = bases["size"]
        changed += _set(model, "size", base * PRESENT_MARKER_SCALE if present else base)
    if is_mapper:
        base_palette = bases["palette"]
        lowered = tuple(c.lower() for c in base_palette)
        source = next((name for name, pal in COLORMAPS.items() if lowered == tuple(c.lower() for c in pal)), None)
        if source is not None:
            target = COLORMAPS[settings.colormap]
            changed += _set(model, "palette", tuple(target) if settings.colormap != "viridis" else base_palette)
            for prop, end in (("low_color", 0), ("high_color", -1)):
                if prop in bases and isinstance(bases[prop], str) and bases[prop].lower() == lowered[end]:
                    changed += _set(model, prop, target[end])
                elif prop in bases:
                    changed += _set(model, prop, bases[prop])  # overflow/underflow markers: never remapped
    return changed


def is_image_figure(fig: Model) -> bool:
    """A figure that draws an image (a heatmap), whose underflow cells are black."""
    return any(isinstance(r, GlyphRenderer) and isinstance(r.glyph, (Image, ImageRGBA)) for r in fig.renderers)


_CLASS_PROPS: dict[type, frozenset] = {}


def _prop(model: Model, name: str):
    """``getattr(model, name)``, or None when the class has no such property (Bokeh's own missing-attribute path
    searches for close matches with difflib: milliseconds per miss)."""
    props = _CLASS_PROPS.get(type(model))
    if props is None:
        props = _CLASS_PROPS[type(model)] = frozenset(type(model).properties())
    return getattr(model, name) if name in props else None


_GLYPH_SLOTS = ("glyph", "selection_glyph", "nonselection_glyph", "hover_glyph", "muted_glyph")


def figure_models(fig: Model) -> list[Model]:
    """The styled models of a figure: the figure, its title, axes, grids, legends, annotations, colour bars, every
    glyph of every renderer (with its selection/hover/muted copies) and the colour mappers they use. A targeted
    walk: ``fig.references()`` also walks every data source and costs ~100 ms on a page."""
    out: list[Model] = [fig]
    if isinstance(fig.title, Model):
        out.append(fig.title)
    items = list(fig.renderers)
    for side in ("left", "right", "above", "below", "center"):
        items.extend(_prop(fig, side) or [])
    for item in items:
        if isinstance(item, GlyphRenderer):
            for slot in _GLYPH_SLOTS:
                glyph = _prop(item, slot)
                if isinstance(glyph, Model):
                    out.append(glyph)
                    mapper = _prop(glyph, "color_mapper")
                    if isinstance(mapper, ColorMapper):
                        out.append(mapper)
                    for spec in _bases(glyph).values():
                        if isinstance(spec, Field) and isinstance(spec.transform, ColorMapper):
                            out.append(spec.transform)
        elif isinstance(item, Model):
            out.append(item)
            mapper = _prop(item, "color_mapper")
            if isinstance(mapper, ColorMapper):
                out.append(mapper)
    return out


def apply_display(figures: Mapping[str, Model] | Iterable[Model], settings: DisplaySettings) -> int:
    """Re-style ``figures`` (``page.figures()`` or any iterable of Bokeh figures) in place for ``settings``.
    Idempotent; returns the number of properties it changed."""
    figs = figures.values() if isinstance(figures, Mapping) else figures
    changed = 0
    seen: set[int] = set()
    for fig in figs:
        image_figure = isinstance(fig, Plot) and is_image_figure(fig)
        for model in figure_models(fig):
            if id(model) in seen and not isinstance(model, Plot):
                continue
            seen.add(id(model))
            changed += _style_model(model, settings, image_figure)
    return changed
