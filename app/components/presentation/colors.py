"""Presentation mode, its colours: the categorical colours the pages draw with mapped to colour-blind-safe palettes
(Okabe-Ito, Paul Tol's "bright"), Viridis samples mapped to Cividis, and dark-theme lightness inversion of dark
neutrals; client-side ``CustomJSTransform`` for colours given as a data column.

References:
  Okabe & Ito (2008), "Color Universal Design (CUD): how to make figures and presentations that are friendly to
  colorblind people" (Bokeh's ``Colorblind8``).
  Tol (2021), "Colour schemes", SRON/EPS/TN/09-002, Fig. 1 ("bright").
  Nuñez, Anderton & Renslow (2018), "Optimizing colormaps with consideration for color vision deficiency to enable
  accurate interpretation of scientific data", PLOS ONE 13(7) (Cividis).
  IEC 61966-2-1:1999 (sRGB transfer function; the lightness computations).
"""

from __future__ import annotations

import colorsys
import json
import re

from bokeh.models import (
    CustomJSTransform,
)
from bokeh.palettes import Category10_10, Cividis256, Colorblind8, Viridis256


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
