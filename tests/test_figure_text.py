"""Issue 15: every figure's text alternative — the one-sentence summary follows the figure's data, the data table
shows its numbers escaped, and the Deep page's gradient sentence matches the measured ratio."""

from __future__ import annotations

import contextlib
import types

import numpy as np
import panel as pn
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


def test_data_table_is_made_on_the_first_toggle_escaped_and_thinned():
    fig, source = line_figure("<script>alert(1)</script>")
    text = FigureText(fig)
    assert text.table is None and list(text.pane) == [text.text, text.toggle]  # nothing built before the press
    text.toggle.value = True
    assert text.table.visible and "<td>3</td>" in text.table.object and "&lt;b&gt;loss" in text.table.object
    assert list(text.pane) == [text.text, text.toggle, text.table]
    source.data = dict(x=np.arange(1000.0), y=np.arange(1000.0))
    rows = text.table.object.count("<tr>") - 1  # less the header row
    assert rows == 60 and "<td>999</td>" in text.table.object  # thinned evenly, last row kept
    assert "&lt;script&gt;" in text.text.object
    text.toggle.value = False
    assert not text.table.visible
    source.data = dict(x=np.arange(2.0), y=np.array([5.0, 6.0]))
    text.toggle.value = True  # shown again: the data of now, in the same pane
    assert text.table.visible and "<td>6</td>" in text.table.object and len(text.pane) == 3


def test_the_table_goes_into_its_card_and_a_figure_has_one_text():
    from app.components.page_layout import figure_card

    fig, _source = line_figure()
    card = figure_card("loss", fig, "deep")
    text = FigureText.of(fig)
    assert FigureText.of(fig) is text and text.table_slot is card
    before = len(card)  # the figure, the summary, the row of the toggle and the downloads
    text.toggle.value = True
    assert len(card) == before + 1 and card[-1] is text.table


def test_one_watcher_refreshes_every_served_session_and_forgets_closed_ones():
    from app.components.figure_text import TextWatcher

    class Document:  # what the watcher uses of a served session's Bokeh document
        def __init__(self):
            self.destroyed, self.ticks = [], []
            self.callbacks = types.SimpleNamespace(hold_value="combine")  # held: document_hold adds no hold

        def on_session_destroyed(self, callback):
            self.destroyed.append(callback)

        def add_next_tick_callback(self, callback):
            self.ticks.append(callback)

    watcher = TextWatcher()
    watcher._callback = object()  # no event loop here: ``poll`` is called by the test
    (fig_a, source_a), (fig_b, _source_b) = line_figure("a"), line_figure("b")
    doc_a, doc_b = Document(), Document()
    text_a, text_b = FigureText(fig_a), FigureText(fig_b)
    watcher.add(doc_a, [text_a])
    watcher.add(doc_a, [text_a])  # added twice (the page, then the site): watched once
    watcher.add(doc_b, [text_b])
    assert watcher.sessions() == 2
    watcher.poll()
    assert doc_a.ticks == [] and doc_b.ticks == []  # nothing changed: no callback at all
    # a change made under a document hold: Bokeh's on_change does not run, so only the poll sees it
    source_a.remove_on_change("data", *source_a._callbacks["data"])
    source_a.data = dict(x=np.arange(2.0), y=np.array([7.0, 8.0]))
    assert "from 7 to 8" not in text_a.text.object
    watcher.poll()
    assert len(doc_a.ticks) == 1 and doc_b.ticks == []
    with contextlib.suppress(StopIteration):  # the session's next tick (a coroutine) refreshes its changed texts
        doc_a.ticks[0]().send(None)
    assert "from 7 to 8" in text_a.text.object
    doc_a.destroyed[0](None)  # the session ends: forgotten
    assert watcher.sessions() == 1


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
    from app.components.page_layout import describe_figures, figure_texts, folded_sections
    from app.pages import page_spec
    from app.pages.deep import DIAGNOSTICS_SECTION

    page = page_spec("deep").build(query={"depth": "20", "activation": "sigmoid", "init": "standard", "steps": "10"})
    page.model.auto_train = False
    layout = page.panel()
    describe_figures(layout, page)
    folded = {name for names in DIAGNOSTICS_SECTION.values() for name in names}
    assert set(figure_texts(layout)) == set(page.figures()) - folded  # the diagnostics: built when opened
    for section in folded_sections(layout):
        section.open()
    texts = figure_texts(layout)
    assert set(texts) == set(page.figures())
    norms = page._profile.backprop_norm
    expected = f"is {power_of_ten(np.log10(norms[0] / norms[-1]))} of layer 20's: vanishing"
    assert expected in texts["gradient-profile"].text.object
    before = texts["gradient-profile"].text.object
    page.model.activation = "relu"
    page.model.init = "he_normal"
    assert texts["gradient-profile"].text.object != before
    page.close()


def test_a_folded_section_builds_its_figure_cards_when_first_opened():
    from app.components.page_layout import describe_figures, figure_texts, folded_sections, page_layout

    (shown, _), (folded_a, _), (folded_b, _) = line_figure("shown"), line_figure("a"), line_figure("b")
    figures = {"shown": shown, "a": folded_a, "b": folded_b}
    layout = page_layout("deep", pn.Column(), [], figures, folded={"More views": ("a", "b")})

    class Page:
        def describe_figure(self, name):
            return f"The page's sentence for {name}."

    describe_figures(layout, Page())
    assert set(figure_texts(layout)) == {"shown"}  # the folded figures' cards are not built
    (section,) = folded_sections(layout)
    assert section.card.collapsed and len(section.card.objects) == 0
    section.card.collapsed = False  # a student opens it (the browser sets ``collapsed``)
    texts = figure_texts(layout)
    assert set(texts) == {"shown", "a", "b"} and "The page's sentence for a." in texts["a"].text.object
    cards = section.card.objects[0].objects
    section.card.collapsed = True
    section.card.collapsed = False  # built once: the same cards
    assert section.card.objects[0].objects == cards
