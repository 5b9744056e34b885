"""Issue 15: every figure's text alternative — the one-sentence summary follows the figure's data, the data table
shows its numbers escaped, and the Deep page's gradient sentence matches the measured ratio."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from app.components.figure_text import (
    FigureText,
    data_table,
    gradient_ratio_sentence,
    power_of_ten,
    summary,
)


def line_figure(title: str = "Loss"):
    fig = figure(title=title)
    source = ColumnDataSource(data=dict(x=np.arange(3.0), y=np.array([3.0, 2.0, 1.0])))
    fig.line("x", "y", source=source, legend_label="<b>loss</b>")
    return fig, source


def test_summary_changes_with_the_data_and_counts_non_finite_values():
    fig, source = line_figure()
    text = FigureText(fig)
    before = text.text.object
    assert "from 1 to 3" in before and "&lt;b&gt;loss&lt;/b&gt;" in before  # escaped legend label
    source.data = dict(x=np.arange(3.0), y=np.array([np.inf, 0.5, np.nan]))
    after = text.text.object
    assert after != before and "from 0.5 to 0.5" in after and "(2 not finite)" in after
    assert 'aria-live="polite"' in after


def test_data_table_is_shown_on_toggle_escaped_and_thinned():
    fig, source = line_figure("<script>alert(1)</script>")
    text = FigureText(fig)
    assert not text.table.visible
    text.toggle.value = True
    assert text.table.visible and "<td>3</td>" in text.table.object and "&lt;b&gt;loss" in text.table.object
    source.data = dict(x=np.arange(1000.0), y=np.arange(1000.0))
    rows = text.table.object.count("<tr>") - 1  # less the header row
    assert rows == 60 and "<td>999</td>" in text.table.object  # thinned evenly, last row kept
    assert "&lt;script&gt;" in text.text.object


def test_image_summary_and_table():
    fig = figure(title="map")
    source = ColumnDataSource(data=dict(image=[np.array([[0.0, 1.0], [2.0, -np.inf]])], x=[0], y=[0], dw=[1], dh=[1]))
    fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=source)
    assert "from 0 to 2 (1 not finite)" in summary(fig)
    assert "<td>−∞</td>" in data_table(fig)
    source.data = dict(image=[np.array([[0.0, -1e30]])], x=[0], y=[0], dw=[1], dh=[1])  # UNDERFLOW_SENTINEL
    assert "from 0 to 0 (1 underflowed to 0)" in summary(fig)
    assert "<td>underflow</td>" in data_table(fig)


def test_gradient_ratio_sentence():
    # 20 layers, each a factor 10^-0.9 below the next: layer 1 is 10^(-0.9*19) = 10^-17.1 of layer 20's
    norms = 10.0 ** (-0.9 * np.arange(19, -1, -1))
    assert gradient_ratio_sentence(norms) == "Gradient at layer 1 is 10⁻¹⁷ of layer 20's: vanishing."
    assert gradient_ratio_sentence(norms[::-1]).endswith("10¹⁷ of layer 20's: exploding.")
    assert gradient_ratio_sentence(np.ones(5)).endswith("10⁰ of layer 5's: about level.")
    assert "overflowed" in gradient_ratio_sentence(np.array([np.inf, 1.0]))
    assert "underflowed to 0" in gradient_ratio_sentence(np.array([0.0, 1.0]))
    assert power_of_ten(-17.2) == "10⁻¹⁷"


def test_deep_page_gradient_profile_is_described_by_its_ratio():
    from app.components.page_layout import describe_figures, figure_texts
    from app.pages import page_spec

    page = page_spec("deep").build(query={"depth": "20", "activation": "sigmoid", "init": "standard", "steps": "10"})
    page.model.auto_train = False
    layout = page.panel()
    describe_figures(layout, page)
    texts = figure_texts(layout)
    assert set(texts) == set(page.figures())
    norms = page._profile.backprop_norm
    expected = f"is {power_of_ten(np.log10(norms[0] / norms[-1]))} of layer 20's: vanishing"
    assert expected in texts["gradient-profile"].text.object
    before = texts["gradient-profile"].text.object
    page.model.activation = "relu"
    page.model.init = "he_normal"
    assert texts["gradient-profile"].text.object != before
    page.cancel_runs()
