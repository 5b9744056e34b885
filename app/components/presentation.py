"""Presentation mode: a light and a dark theme, larger fonts and line widths, colour-blind-safe palettes and
colour maps, and hideable controls — for every page, through the page protocol (``page.figures()``,
``page_layout``), re-styled in place.

Settings (``DisplaySettings``) come from the URL query (``?theme=dark&present=1&palette=okabe-ito&
colormap=cividis&controls=0``, parsed like every page control: bad values give a notice and a safe fallback) and
from the "Display" area of the site header, which mirrors them back to the URL.

``apply_display(figures, settings)`` re-styles Bokeh figures in place: every property it touches is remembered
at first sight (the value the page set, or Bokeh's class default), and each call computes the new value from that
base, so toggling back restores the page's own styling exactly. It never rebuilds a figure or touches data.

- presentation: font sizes × ``PRESENT_FONT_SCALE`` (titles × ``PRESENT_TITLE_SCALE``), ``line_width`` of glyphs
  and annotations × ``PRESENT_LINE_SCALE``, marker sizes × ``PRESENT_MARKER_SCALE``;
- palette: the Category10 colours the pages draw with (and their lighter variants) become Okabe-Ito
  (``bokeh.palettes.Colorblind8``) or Paul Tol's "bright" set; colours given as a data column are mapped by a
  client-side ``CustomJSTransform`` (the data is untouched). Colours outside the table (grey, white, black, the
  overflow magenta / underflow black markers, sequential colour-map samples) keep their meaning;
- colour map: images and colours whose palette is Viridis256 can use Cividis256 instead; the overflow (magenta,
  ``nan_color``) and underflow (black, ``low_color``) colours are kept;
- dark theme: Panel's dark Bokeh colours set explicitly on plots, axes, grids, legends, titles and colour bars
  (``document.theme`` only reaches properties a page left unset). Dark greys and black on line plots (including
  black underflow crosses) are drawn with the inverted lightness, so they stay visible. Figures that show an image
  (the heatmaps) get a mid-grey plot background and a light frame instead, so that underflow cells stay black
  and distinct from the dark page around them.

``DisplayController`` is the Panel side: the header widgets, hiding the controls column, Panel's widget theme
(switched in place for the session, see ``set_panel_theme``) and larger text in presentation mode.
"""

from __future__ import annotations

import colorsys
import json
import logging
import re
import time
import weakref
from collections.abc import Iterable, Mapping

import panel as pn
import param
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
from bokeh.palettes import Category10_10, Cividis256, Colorblind8, Viridis256

from .page import document_hold, on_session_loop, session_document
from .page_layout import CONTROLS_CLASS
from .url_state import apply_query, mirror_to_url

log = logging.getLogger(__name__)

PRESENT_FONT_SCALE = 1.4
#: figure titles grow less: they do not wrap, and the pages' figures keep their width.
PRESENT_TITLE_SCALE = 1.25
PRESENT_LINE_SCALE = 1.75
PRESENT_MARKER_SCALE = 1.4
#: Bokeh's base font size for widgets and text (the ``--bokeh-font-size`` CSS variable) in presentation mode.
PRESENT_TEXT_SIZE = "18px"

DISPLAY_PARAMS = ["theme", "present", "palette", "colormap", "controls"]


# ---------------------------------------------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------------------------------------------
def _tint(color: str, amount: float) -> str:
    """``color`` mixed with white (``amount`` of white): the lighter variant of a palette colour."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in (r, g, b))


# The categorical colours the pages draw with: Category10 in order, then the lighter red and green the loss-cliff
# page draws on top of its heatmap. Named colours are normalised to hex first ("red" is #ff0000).
_SOURCE = list(Category10_10) + ["#ff0000", "#008000", "#0000ff", "#ff4040", "#40ff40"]
_OKABE_ITO = dict(zip(Colorblind8[:7], ("blue", "orange", "yellow", "green", "sky", "vermillion", "purple")))
_OI = {v: k.lower() for k, v in _OKABE_ITO.items()}
_TOL = {
    "blue": "#4477aa",
    "red": "#ee6677",
    "green": "#228833",
    "yellow": "#ccbb44",
    "cyan": "#66ccee",
    "purple": "#aa3377",
    "grey": "#bbbbbb",
}


def _table(blue, orange, green, red, purple, brown, pink, grey, olive, cyan) -> dict[str, str]:
    targets = [
        blue,
        orange,
        green,
        red,
        purple,
        brown,
        pink,
        grey,
        olive,
        cyan,
        red,
        green,
        blue,
        _tint(red, 0.3),
        _tint(green, 0.3),
    ]
    return {src.lower(): dst.lower() for src, dst in zip(_SOURCE, targets)}


#: palette name -> {Category10 (and variant) hex -> replacement hex}. Pages use at most the first six Category10
#: colours (blue, orange, green, red, purple, brown); the tail maps to the closest remaining colour.
PALETTES: dict[str, dict[str, str]] = {
    "default": {},
    "okabe-ito": _table(
        _OI["blue"],
        _OI["orange"],
        _OI["green"],
        _OI["vermillion"],
        _OI["purple"],
        _OI["sky"],
        _OI["yellow"],
        "#999999",
        _OI["yellow"],
        _OI["sky"],
    ),
    "tol-bright": _table(
        _TOL["blue"],
        _TOL["yellow"],
        _TOL["green"],
        _TOL["red"],
        _TOL["purple"],
        _TOL["cyan"],
        _TOL["purple"],
        _TOL["grey"],
        _TOL["yellow"],
        _TOL["cyan"],
    ),
}
PALETTE_DOCS = {
    "default": "Category10 as the pages draw it (not safe for red-green colour blindness)",
    "okabe-ito": "Okabe & Ito's colour-blind-safe set (bokeh.palettes.Colorblind8)",
    "tol-bright": "Paul Tol's colour-blind-safe 'bright' set",
}

#: colour map name -> 256 colours; images (and colours) drawn with Viridis256 use the chosen one.
COLORMAPS: dict[str, tuple[str, ...]] = {"viridis": tuple(Viridis256), "cividis": tuple(Cividis256)}
_VIRIDIS_INDEX = {c.lower(): i for i, c in enumerate(Viridis256)}

#: Panel's dark Bokeh theme colours (panel.theme.base.BOKEH_DARK: dark_minimal with Panel's backgrounds).
DARK_BACKGROUND = "#2b3035"
DARK_BORDER = "#212529"
DARK_TEXT = "#e0e0e0"
#: plot background of image figures (heatmaps) in the dark theme: mid grey, far from the underflow black.
DARK_IMAGE_BACKGROUND = "#7b8087"

DARK_NOTE = (
    "Dark theme: heatmap cells that underflow to 0 stay **black** (framed, on a grey plot background); "
    "black lines and markers on line plots, including underflow crosses, are drawn **light grey**."
)


def normalize_color(color) -> str | None:
    """Lower-case ``#rrggbb`` for a named or hex colour (alpha dropped); None for anything else."""
    if not isinstance(color, str):
        return None
    text = color.strip().lower()
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        return "#" + "".join(ch * 2 for ch in text[1:])
    if re.fullmatch(r"#[0-9a-f]{6}([0-9a-f]{2})?", text):
        return text[:7]
    from bokeh.colors import named

    obj = getattr(named, text, None)
    if obj is not None and hasattr(obj, "to_hex"):
        return obj.to_hex().lower()[:7]
    return None


def _srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _linear_to_srgb(c: float) -> float:
    c = min(max(c, 0.0), 1.0)
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def lightness(color: str) -> float:
    """CIE L* (0 black … 100 white) of a ``#rrggbb`` colour."""
    r, g, b = (_srgb_to_linear(int(color[i : i + 2], 16) / 255) for i in (1, 3, 5))
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 116 * y ** (1 / 3) - 16 if y > (6 / 29) ** 3 else y * (29 / 3) ** 3


def _with_lightness(color: str, target: float) -> str:
    """The same hue and saturation with CIE L* ``target`` (greys: exact)."""
    rgb = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    h, _, s = colorsys.rgb_to_hls(*rgb)
    lo, hi = 0.0, 1.0
    for _ in range(30):  # bisection on HLS lightness
        mid = (lo + hi) / 2
        rgb = colorsys.hls_to_rgb(h, mid, s)
        if lightness("#" + "".join(f"{round(c * 255):02x}" for c in rgb)) < target:
            lo = mid
        else:
            hi = mid
    rgb = colorsys.hls_to_rgb(h, (lo + hi) / 2, s)
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def _is_dark_neutral(color: str) -> bool:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return max(r, g, b) - min(r, g, b) <= 24 and lightness(color) < 50


def map_color(color, palette: str = "default", colormap: str = "viridis", dark_lines: bool = False):
    """The colour to draw instead of ``color``: palette and colour-map substitution, then (``dark_lines``: a line
    plot in the dark theme) dark greys and black get the inverted lightness (black -> #e0e0e0-ish). Anything that
    is not a recognisable colour, or not in a table, is returned unchanged."""
    hex_ = normalize_color(color)
    if hex_ is None:
        return color
    out = PALETTES[palette].get(hex_)
    if out is None and colormap != "viridis" and hex_ in _VIRIDIS_INDEX:
        out = COLORMAPS[colormap][_VIRIDIS_INDEX[hex_]].lower()
    if out is None:
        out = hex_
    if dark_lines and _is_dark_neutral(out):
        out = _with_lightness(out, min(100 - lightness(out), 89.0))
    return color if out == hex_ else out


def color_table(palette: str, colormap: str, dark_lines: bool) -> dict[str, str]:
    """``map_color`` as a finite table over every colour it changes (for colours held in data columns, which are
    mapped in the browser); keys are lower-case hex and the named colours pages use."""
    keys = set(PALETTES[palette]) | {"red", "green", "blue", "black", "#000000", "#333333", "#444444", "#555555"}
    if colormap != "viridis":
        keys |= set(_VIRIDIS_INDEX)
    table = {}
    for key in sorted(keys):
        out = map_color(key, palette, colormap, dark_lines)
        if out != key and normalize_color(out) != normalize_color(key):
            table[key] = out
    return table


def _transform(table: dict[str, str]) -> CustomJSTransform:
    """Maps a column of colour strings through ``table`` in the browser; unknown colours pass through."""
    code = (
        f"const m = {json.dumps(table, sort_keys=True)};\n"
        "return xs.map(x => { if (typeof x !== 'string') return x; const k = x.trim().toLowerCase();\n"
        "  return m[k] ?? m[k.slice(0, 7)] ?? x; });"
    )
    return CustomJSTransform(v_func=code, tags=["vgp-palette"])


# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------
class DisplaySettings(param.Parameterized):
    """How every page is drawn; URL query names are the parameter names."""

    theme = param.Selector(default="light", objects=["light", "dark"], doc="light or dark page and figures")
    present = param.Boolean(
        default=False,
        doc=f"presentation mode: fonts × {PRESENT_FONT_SCALE}, line widths × "
        f"{PRESENT_LINE_SCALE}, larger text and widgets",
    )
    palette = param.Selector(
        default="default",
        objects=list(PALETTES),
        doc="line and marker colours: " + "; ".join(f"{k}: {v}" for k, v in PALETTE_DOCS.items()),
    )
    colormap = param.Selector(
        default="viridis",
        objects=list(COLORMAPS),
        doc="colour map of the heatmaps (both colour-blind-safe and perceptually uniform)",
    )
    controls = param.Boolean(default=True, doc="show the controls column (?controls=0 hides it)")


def display_from_query(query: Mapping[str, str]) -> tuple[DisplaySettings, list[str]]:
    """Settings from URL arguments, with notices for bad values (which keep the default)."""
    query = dict(query)
    if query.get("theme", "").strip().lower() == "default":  # Panel's own name for the light theme
        query["theme"] = "light"
    settings = DisplaySettings()
    return settings, apply_query(settings, DISPLAY_PARAMS, query)


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
        explicit = model.properties_with_values(include_defaults=False)
        bases = {}
        for prop in fonts + dark + colors + (("line_width",) if line else ()) + (("size",) if marker else ()):
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


# ---------------------------------------------------------------------------------------------------------------
# Panel: theme, controls, header widgets
# ---------------------------------------------------------------------------------------------------------------
def find_controls(layout) -> pn.viewable.Viewable | None:
    """The controls column of a page layout (the object tagged with ``CONTROLS_CLASS``), wherever it sits."""
    if layout is None:
        return None
    for obj in layout.select(pn.viewable.Viewable):
        if CONTROLS_CLASS in (getattr(obj, "css_classes", None) or []):
            return obj
    return None


def panel_theme_name(theme: str) -> str:
    return "dark" if theme == "dark" else "default"


def set_panel_theme(root: pn.viewable.Viewable, theme: str) -> None:
    """Switch Panel's widget theme of this session in place: the session's ``pn.config.theme`` (for components
    made later), each component's design, the theme stylesheets of every rendered model, and the Bokeh document
    theme. Relies on Panel 1.9's ``Viewable._update_design`` / ``_models`` / ``Design.apply`` (tested in a browser:
    tests/browser/test_presentation.py)."""
    name = panel_theme_name(theme)
    if pn.state.curdoc is not None:  # per session; outside a session this would change the global default
        pn.config.theme = name
    for obj in root.select(pn.viewable.Viewable):
        obj._update_design()
    design = root._design
    if design is None:
        return
    for ref, (model, _parent) in list(root._models.items()):
        if model.ref["id"] != ref:
            continue
        design.apply(root, model)
        doc = model.document
        if doc is not None:
            doc.theme = design.theme.bokeh_theme  # None: Bokeh's default theme


def root_styles(settings: DisplaySettings) -> dict:
    """Inline styles of the site's root column: the theme's page background, and larger text when presenting
    (Bokeh and Panel widgets size their text from ``--bokeh-font-size``)."""
    styles = {
        "background-color": "var(--panel-background-color)",
        "color": "var(--panel-on-background-color)",
        "min-height": "100vh",
    }
    if settings.present:
        styles["--bokeh-font-size"] = PRESENT_TEXT_SIZE
    return styles


class DisplayController:
    """Applies ``settings`` to one session's page and keeps applying them when they change (header widgets, URL).

    ``figures``: the page's ``figures()``; ``layout``: the page's ``panel()`` (its controls column is hidden with
    ``controls=0``); ``attach(root)`` hands over the site's root column (theme and text size)."""

    def __init__(self, settings: DisplaySettings, figures: Mapping[str, Model], layout=None):
        self.settings = settings
        self.figures = dict(figures)
        self.controls = find_controls(layout)
        self.root: pn.viewable.Viewable | None = None
        self.last_apply_s = 0.0
        self.note = pn.pane.Markdown(
            DARK_NOTE,
            visible=settings.theme == "dark",
            margin=(0, 10),
            styles={"font-size": "0.85em"},
            css_classes=["vgp-dark-note"],
        )
        apply_display(self.figures, settings)
        if self.controls is not None:
            self.controls.visible = settings.controls
        self._doc = session_document()
        settings.param.watch(on_session_loop(self._doc, self._on_change), DISPLAY_PARAMS)
        mirror_to_url(settings, DISPLAY_PARAMS)

    def attach(self, root: pn.viewable.Viewable) -> None:
        self.root = root
        root.styles = root_styles(self.settings)

    def widgets(self) -> pn.viewable.Viewable:
        """The "Display" area of the site header."""
        s = self.settings
        w = pn.widgets
        return pn.Row(
            pn.pane.HTML("<b>Display</b>", margin=(12, 5, 5, 10)),
            w.RadioButtonGroup.from_param(s.param.theme, width=110, margin=(8, 5)),
            w.Checkbox.from_param(s.param.present, label="presentation", margin=(14, 5)),
            w.Checkbox.from_param(s.param.controls, label="controls", margin=(14, 5)),
            w.Select.from_param(s.param.palette, label="", width=110, margin=(8, 5)),
            w.Select.from_param(s.param.colormap, label="", width=90, margin=(8, 5)),
            css_classes=["vgp-display"],
        )

    def _on_change(self, *events) -> None:
        start = time.perf_counter()
        names = {e.name for e in events}
        with document_hold(self._doc):
            if names & {"theme", "present", "palette", "colormap"}:
                apply_display(self.figures, self.settings)
            if "controls" in names and self.controls is not None:
                self.controls.visible = self.settings.controls
            if self.root is not None and names & {"theme", "present"}:
                self.root.styles = root_styles(self.settings)
            if "theme" in names:
                self.note.visible = self.settings.theme == "dark"
                if self.root is not None:
                    set_panel_theme(self.root, self.settings.theme)
        self.last_apply_s = time.perf_counter() - start
        log.debug("display %s applied in %.1f ms", sorted(names), 1000 * self.last_apply_s)
