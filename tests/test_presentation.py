"""Presentation mode without a browser: URL parsing with notices, apply_display on real page figures (fonts, line
widths and marker sizes scale and restore; palettes are colour-blind-safe under simulated colour-vision
deficiencies and keep the overflow/underflow markers distinct; the dark theme), the client-side palette transform
(run with node), and the site's in-place toggle (no figure rebuilt, Panel's theme stylesheets swapped, timed)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess

import numpy as np
import pytest
from bokeh.core.property.vectorization import Field
from bokeh.document import Document
from bokeh.models import ColorMapper, CustomJSTransform, GlyphRenderer, Plot
from bokeh.palettes import Category10_10, Cividis256, Viridis256

from app.components.heatmap import OVERFLOW_COLOR, UNDERFLOW_COLOR
from app.components.presentation import (
    DARK_BACKGROUND,
    DARK_IMAGE_BACKGROUND,
    DARK_TEXT,
    PRESENT_FONT_SCALE,
    PRESENT_LINE_SCALE,
    PRESENT_TITLE_SCALE,
    DisplaySettings,
    apply_display,
    color_table,
    display_from_query,
    figure_models,
    is_image_figure,
    map_color,
    normalize_color,
)

# ---------------------------------------------------------------------------------------------------------------
# Colour-vision-deficiency simulation (Machado, Oliveira & Fernandes 2009, severity 1, linear RGB) and CIELAB ΔE.
# ---------------------------------------------------------------------------------------------------------------
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
MIN_DELTA_E_LINES = 12.0  # between any two line colours of a palette, and from the markers
MIN_DELTA_E_MARKERS = 20.0  # overflow/underflow markers against every colour of a colour map


def _lab(hex_color: str, kind: str) -> np.ndarray:
    c = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lin = np.clip(CVD[kind] @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str, b: str, kind: str = "normal") -> float:
    return float(np.linalg.norm(_lab(normalize_color(a), kind) - _lab(normalize_color(b), kind)))


def worst_pair(colors: list[str]) -> tuple[float, str, str, str]:
    return min((delta_e(a, b, k), a, b, k) for k in CVD for a, b in itertools.combinations(colors, 2))


# The Category10 colours the pages draw lines with (deep, recurrent, bifurcation, cliff, glorot: the first six).
PAGE_CATEGORICAL = list(Category10_10[:6])


# ---------------------------------------------------------------------------------------------------------------
# Pages (built once per module; the deep page small so that it compiles quickly)
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deep_page():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    return DeepNetworkPage(DeepNetworkModel(auto_train=False, depth=5, width=16), query={})


@pytest.fixture(scope="module")
def bifurcation_page():
    from app.pages.bifurcation import BifurcationPage

    return BifurcationPage(query={})


@pytest.fixture(scope="module")
def cliff_page():
    from app.pages.cliff import LossCliffPage

    return LossCliffPage(query={})


def styled_snapshot(figures) -> dict:
    """Every property apply_display may touch, read back from the models."""
    snap = {}
    for fname, fig in figures.items():
        for i, model in enumerate(figure_models(fig)):
            for prop, value in sorted(model.properties_with_values(include_defaults=True).items()):
                if prop.endswith(("font_size", "_color", "_alpha", "line_width")) or prop in ("size", "palette"):
                    snap[(fname, i, type(model).__name__, prop)] = repr(value)
    return snap


def glyph_colors(fig) -> list[str]:
    """Value colours (line and fill) of the main glyph of every renderer."""
    out = []
    for r in fig.renderers:
        if isinstance(r, GlyphRenderer):
            for prop in ("line_color", "fill_color"):
                spec = r.glyph.properties_with_values(include_defaults=True).get(prop)
                value = getattr(spec, "value", spec)
                if isinstance(value, str) and not isinstance(spec, Field):
                    out.append(normalize_color(value))
    return [c for c in out if c]


# ---------------------------------------------------------------------------------------------------------------
# URL
# ---------------------------------------------------------------------------------------------------------------
def test_query_parsing_good_values():
    s, notices = display_from_query(
        {"theme": "dark", "present": "1", "palette": "okabe-ito", "colormap": "cividis", "controls": "0"}
    )
    assert notices == []
    assert (s.theme, s.present, s.palette, s.colormap, s.controls) == ("dark", True, "okabe-ito", "cividis", False)
    assert display_from_query({"theme": "default"})[0].theme == "light"  # Panel's name for it
    s, notices = display_from_query({})
    assert notices == [] and (s.theme, s.present, s.palette, s.colormap, s.controls) == (
        "light",
        False,
        "default",
        "viridis",
        True,
    )


def test_query_parsing_bad_values_give_notices_and_keep_defaults():
    s, notices = display_from_query(
        {
            "theme": "purple",
            "present": "maybe",
            "palette": "rainbow",
            "colormap": "jet",
            "controls": "2",
            "page": "deep",
        }
    )
    assert (s.theme, s.present, s.palette, s.colormap, s.controls) == ("light", False, "default", "viridis", True)
    text = " | ".join(notices)
    assert len(notices) == 5, notices
    for fragment in (
        "theme='purple'",
        "present='maybe'",
        "palette='rainbow'",
        "colormap='jet'",
        "controls='2'",
        "okabe-ito",
        "cividis",
    ):
        assert fragment in text
    # the valid part of a half-bad link still applies
    s, notices = display_from_query({"theme": "dark", "palette": "nope"})
    assert s.theme == "dark" and len(notices) == 1


# ---------------------------------------------------------------------------------------------------------------
# Fonts, line widths, restore
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page_fixture", ["deep_page", "bifurcation_page", "cliff_page"])
def test_presentation_scales_fonts_lines_and_restores(page_fixture, request):
    page = request.getfixturevalue(page_fixture)
    figures = page.figures()
    settings = DisplaySettings()
    apply_display(figures, settings)
    before = styled_snapshot(figures)
    fig = next(iter(figures.values()))
    title_px = float(fig.title.text_font_size.rstrip("px"))
    line_renderers = [
        r
        for f in figures.values()
        for r in f.renderers
        if isinstance(r, GlyphRenderer)
        and isinstance(getattr(r.glyph, "line_width", None), (int, float))
        and type(r.glyph).__name__ in ("Line", "MultiLine")
    ]
    assert line_renderers
    widths = [r.glyph.line_width for r in line_renderers]
    axis = fig.xaxis[0]
    axis_sizes = (axis.axis_label_text_font_size, axis.major_label_text_font_size)

    settings.present = True
    changed = apply_display(figures, settings)
    assert changed > 10
    assert fig.title.text_font_size == f"{title_px * PRESENT_TITLE_SCALE:.4g}px"
    assert [r.glyph.line_width for r in line_renderers] == pytest.approx([w * PRESENT_LINE_SCALE for w in widths])
    for old, new in zip(axis_sizes, (axis.axis_label_text_font_size, axis.major_label_text_font_size)):
        assert float(new[:-2]) == pytest.approx(float(old[:-2]) * PRESENT_FONT_SCALE) and new[-2:] == old[-2:]
    assert apply_display(figures, settings) == 0  # idempotent: nothing more to send

    settings.present = False
    apply_display(figures, settings)
    assert styled_snapshot(figures) == before


def test_presentation_scales_explicit_point_sizes(cliff_page):
    """The cliff page sets its legends' font to 8pt: presentation mode scales that value, not a default."""
    fig = cliff_page.figures()["step-length"]
    assert fig.legend[0].label_text_font_size == "8pt"
    settings = DisplaySettings(present=True)
    apply_display(cliff_page.figures(), settings)
    assert fig.legend[0].label_text_font_size == f"{8 * PRESENT_FONT_SCALE:.4g}pt"
    apply_display(cliff_page.figures(), DisplaySettings())
    assert fig.legend[0].label_text_font_size == "8pt"


# ---------------------------------------------------------------------------------------------------------------
# Palettes
# ---------------------------------------------------------------------------------------------------------------
def test_default_category10_fails_the_colour_blind_check():
    """The check below can fail: Category10's orange/green and green/red merge for protanopes and deuteranopes."""
    score, a, b, kind = worst_pair(PAGE_CATEGORICAL + [OVERFLOW_COLOR, UNDERFLOW_COLOR])
    assert score < MIN_DELTA_E_LINES and kind in ("protanopia", "deuteranopia"), (score, a, b, kind)


@pytest.mark.parametrize("palette", ["okabe-ito", "tol-bright"])
def test_palettes_are_colour_blind_safe_and_keep_markers_distinct(palette):
    mapped = [map_color(c, palette) for c in PAGE_CATEGORICAL]
    assert len(set(mapped)) == len(mapped)
    score, a, b, kind = worst_pair(mapped + [OVERFLOW_COLOR, UNDERFLOW_COLOR])
    assert score >= MIN_DELTA_E_LINES, (palette, score, a, b, kind)
    # the pages' red/green pairs (plain vs clipped descent, including the lighter variants drawn on the heatmap)
    for pair in (("#d62728", "#2ca02c"), ("#ff4040", "#40ff40")):
        x, y = (map_color(c, palette) for c in pair)
        assert min(delta_e(x, y, k) for k in CVD) >= MIN_DELTA_E_LINES, (pair, x, y)
    # overflow/underflow markers are never remapped
    assert map_color(OVERFLOW_COLOR, palette) == OVERFLOW_COLOR
    assert map_color(UNDERFLOW_COLOR, palette) == UNDERFLOW_COLOR


def test_palette_applies_to_page_figures_and_restores(deep_page, bifurcation_page):
    figures = {
        **{f"deep-{k}": v for k, v in deep_page.figures().items()},
        **{f"bif-{k}": v for k, v in bifurcation_page.figures().items()},
    }
    settings = DisplaySettings()
    apply_display(figures, settings)
    before = styled_snapshot(figures)
    original = {c for f in figures.values() for c in glyph_colors(f)}
    assert {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"} <= original
    markers = {
        id(model): (model.nan_color, model.low_color)
        for f in figures.values()
        for model in figure_models(f)
        if isinstance(model, ColorMapper) and hasattr(model, "nan_color")
    }
    # the gradient heatmap's overflow/underflow markers (the histograms' mappers have none: their zero and inf/NaN
    # counts are columns of their own)
    assert (OVERFLOW_COLOR, UNDERFLOW_COLOR) in markers.values()

    settings.palette = "okabe-ito"
    apply_display(figures, settings)
    now = {c for f in figures.values() for c in glyph_colors(f)}
    assert not now & {c.lower() for c in Category10_10}, now
    assert {"#0072b2", "#d55e00", "#009e73", "#e69f00", "#cc79a7"} <= now
    assert OVERFLOW_COLOR in now  # LogProfile's overflow/underflow crosses keep their colour
    # the heatmaps' marker colours are untouched
    for f in figures.values():
        for model in figure_models(f):
            if isinstance(model, ColorMapper) and hasattr(model, "nan_color"):
                assert (model.nan_color, model.low_color) == markers[id(model)]

    settings.palette = "default"
    apply_display(figures, settings)
    assert styled_snapshot(figures) == before


def test_cividis_colour_map_keeps_overflow_and_underflow(deep_page):
    figures = deep_page.figures()
    mapper = deep_page.train_map.mapper
    settings = DisplaySettings(colormap="cividis")
    apply_display(figures, settings)
    assert tuple(mapper.palette) == tuple(Cividis256)
    assert mapper.nan_color == OVERFLOW_COLOR and mapper.low_color == UNDERFLOW_COLOR
    assert mapper.high_color == Cividis256[-1]
    for cmap in (Viridis256, Cividis256):
        for marker in (OVERFLOW_COLOR, UNDERFLOW_COLOR):
            worst = min(delta_e(marker, c, k) for k in CVD for c in cmap[::4] + (cmap[-1],))
            assert worst >= MIN_DELTA_E_MARKERS, (marker, worst)
    settings.colormap = "viridis"
    apply_display(figures, settings)
    assert tuple(mapper.palette) == tuple(Viridis256) and mapper.high_color == Viridis256[-1]


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the browser-side colour transform")
def test_field_colours_use_a_browser_transform(cliff_page):
    """Colours held in a data column (the cliff page's current-step stars) are mapped in the browser by a
    CustomJSTransform; its code, run with node, gives the palette's colours and passes unknown ones through."""
    fig = cliff_page.figures()["loss-curve"]
    star = next(
        r.glyph
        for r in fig.renderers
        if isinstance(r, GlyphRenderer) and isinstance(r.glyph.properties_with_values().get("fill_color"), Field)
    )
    apply_display(cliff_page.figures(), DisplaySettings(palette="okabe-ito"))
    spec = star.properties_with_values()["fill_color"]
    assert isinstance(spec, Field) and isinstance(spec.transform, CustomJSTransform)
    xs = ["#d62728", "#2CA02C", "#ff4040", "#123456", "#000000", 7]
    script = (
        f"const f = new Function('xs', {json.dumps(spec.transform.v_func)}); "
        f"console.log(JSON.stringify(f({json.dumps(xs)})));"
    )
    out = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)
    assert out == ["#d55e00", "#009e73", map_color("#ff4040", "okabe-ito"), "#123456", "#000000", 7]
    table = color_table("okabe-ito", "viridis", dark_lines=True)
    assert table["#000000"] == table["black"] and normalize_color(table["black"]) != "#000000"
    apply_display(cliff_page.figures(), DisplaySettings())
    spec = star.properties_with_values()["fill_color"]
    assert isinstance(spec, Field) and not isinstance(spec.transform, CustomJSTransform)


# ---------------------------------------------------------------------------------------------------------------
# Dark theme
# ---------------------------------------------------------------------------------------------------------------
def test_dark_theme_colours_and_underflow_stays_distinct(deep_page, bifurcation_page):
    figures = {
        **{f"deep-{k}": v for k, v in deep_page.figures().items()},
        **{f"bif-{k}": v for k, v in bifurcation_page.figures().items()},
    }
    settings = DisplaySettings()
    apply_display(figures, settings)
    before = styled_snapshot(figures)
    settings.theme = "dark"
    apply_display(figures, settings)
    images = [f for f in figures.values() if is_image_figure(f)]
    lines = [f for f in figures.values() if not is_image_figure(f)]
    # deep: the gradient heatmap and the two layer histograms; bifurcation: its two maps
    assert len(images) == 5 and len(lines) >= 6
    for fig in figures.values():
        assert fig.border_fill_color.lower() != "#ffffff"
        assert fig.title.text_color == DARK_TEXT
        assert fig.xaxis[0].axis_label_text_color == DARK_TEXT
        assert fig.yaxis[0].major_label_text_color == DARK_TEXT
        for legend in fig.legend:
            assert legend.label_text_color == DARK_TEXT
        assert delta_e(fig.title.text_color, fig.border_fill_color) > 60  # readable text
    for fig in lines:
        assert fig.background_fill_color == DARK_BACKGROUND
    for fig in images:
        # underflow cells are black: the plot area around them is mid grey and framed in a light line
        assert fig.background_fill_color == DARK_IMAGE_BACKGROUND
        assert min(delta_e(UNDERFLOW_COLOR, fig.background_fill_color, k) for k in CVD) > 30
        assert fig.outline_line_alpha == 1.0 and delta_e(fig.outline_line_color, UNDERFLOW_COLOR) > 60
        for bar in fig.right:
            assert bar.title_text_color == DARK_TEXT
    # black glyphs on a line plot (the bifurcation folds) become light; on a heatmap they are left alone
    folds = next(
        r.glyph
        for r in bifurcation_page.diagram_figure.renderers
        if isinstance(r, GlyphRenderer) and getattr(r.glyph, "marker", None) == "diamond"
    )
    assert delta_e(folds.fill_color, DARK_BACKGROUND) > 60
    assert deep_page.train_map.mapper.low_color == UNDERFLOW_COLOR
    settings.theme = "light"
    apply_display(figures, settings)
    assert styled_snapshot(figures) == before


# ---------------------------------------------------------------------------------------------------------------
# The site: in-place toggles
# ---------------------------------------------------------------------------------------------------------------
def test_site_toggles_in_place(monkeypatch):
    import panel as pn
    from panel.io.state import set_curdoc

    import app.site as site_module
    from app.components.page_layout import CONTROLS_CLASS

    monkeypatch.setattr(
        site_module,
        "session_query",
        lambda: {"page": "bifurcation", "theme": "dark", "present": "1", "palette": "bogus"},
    )
    doc = Document()
    with set_curdoc(doc):
        site = site_module.make_site()
        root = site.view.get_root(doc)
        doc.add_root(root)
        settings, display = site.display.settings, site.display
        assert settings.theme == "dark" and settings.present and settings.palette == "default"
        notices = [o for o in site.view.select(pn.pane.Alert) if "vgp-site-notice" in o.css_classes]
        assert len(notices) == 1 and "palette='bogus'" in notices[0].object
        assert site.view.styles["--bokeh-font-size"] == "18px"

        def theme_sheets():
            return {
                s.url.rsplit("/", 1)[-1]
                for m in doc.models
                for s in getattr(m, "stylesheets", [])
                if hasattr(s, "url") and s.url and "/theme/" in s.url
            }

        assert "dark.css" in theme_sheets() and "default.css" not in theme_sheets()
        figures = site.page.figures()
        ids = {k: id(v) for k, v in figures.items()}
        fig = figures["diagram"] if "diagram" in figures else next(iter(figures.values()))
        assert fig.background_fill_color == DARK_BACKGROUND
        controls = next(o for o in site.view.select() if CONTROLS_CLASS in (getattr(o, "css_classes", None) or []))
        n_models = len(doc.models)

        timings = {}
        for name, value in (
            ("theme", "light"),
            ("present", False),
            ("palette", "okabe-ito"),
            ("controls", False),
            ("colormap", "cividis"),
            ("theme", "dark"),
        ):
            setattr(settings, name, value)
            timings[f"{name}={value}"] = round(1000 * display.last_apply_s, 1)
        print("in-place display toggles, ms:", timings)
        assert max(timings.values()) < 3000  # generous: 2 shared cores; see the printed values

        assert {k: id(v) for k, v in site.page.figures().items()} == ids  # no figure rebuilt
        assert abs(len(doc.models) - n_models) < 20  # the page was not rebuilt either (a few transforms added)
        assert controls.visible is False
        assert "--bokeh-font-size" not in site.view.styles
        assert fig.background_fill_color == DARK_BACKGROUND
        assert "dark.css" in theme_sheets()
        settings.theme = "light"
        assert "default.css" in theme_sheets() and "dark.css" not in theme_sheets()
        assert fig.background_fill_color == Plot.lookup("background_fill_color").class_default(Plot)
        links = next(o for o in site.view.select(pn.pane.Markdown) if "?page=deep" in str(o.object))
        assert "palette=okabe-ito" in links.object and "controls=false" in links.object
