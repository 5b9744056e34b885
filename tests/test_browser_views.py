"""Browser-side views (``app.components.browser_views``) without a browser: the tables hold each value once and pick
what the view function gives for every setting; the spec sent to the browser, indexed as its JS indexes it, holds
exactly what the page's own draw shows (the Glorot & Bengio page, every browser-side setting); browser-only
components do not sync; the browser's state sent to the server is applied."""

from __future__ import annotations

import itertools
import json

import numpy as np
import panel as pn
from bokeh.models import Tooltip

from app.components.browser_views import (
    SIGNIFICANT_DIGITS,
    BrowserViews,
    Control,
    Tables,
    browser_only,
    for_js,
    rounded,
)
from app.pages import glorot
from app.pages.glorot import BROWSER_PARAMS, GlorotPage


def test_tables_store_each_value_once_and_drop_unused_dependencies():
    domains = {"a": [1, 2, 3], "b": [False, True]}
    calls = []

    def view(s):
        calls.append(dict(s))
        return {
            "sum": np.array([s["a"], s["k"]], np.float64),
            "flag": "on" if s["b"] else "off",
            ("text", 1): f"a={s['a']}",
            ("text", 0): "<x>",
        }

    tables = Tables.of([(view, ["a", "b"])], {"k": 7}, domains)
    assert len(calls) == 6
    assert [p.deps for p in tables.parts["sum"]] == [("a",)] and len(tables.parts["sum"][0].values) == 3
    assert tables.parts["flag"][0].deps == ("b",) and tables.parts["flag"][0].values == ("off", "on")
    assert [p.deps for p in tables.parts["text"]] == [(), ("a",)]  # pieces in order, each with its own deps
    for a, b in itertools.product(*domains.values()):
        s = {"a": a, "b": b}
        assert np.array_equal(tables.value("sum", s), [a, 7])
        assert tables.value("text", s) == f"<x>a={a}"
    assert not tables.parts["sum"][0].values[0].flags.writeable  # shared between sessions: read-only


def js_pick(spec: dict, table: dict, state: dict):
    """What APPLY_JS picks from a table of the spec for ``state``."""
    controls = spec["controls"]
    values = []
    for part in table["parts"]:
        i = 0
        for d in part["deps"]:
            i = i * len(controls[d]["domain"]) + controls[d]["domain"].index(state[d])
        values.append(part["values"][part["index"][i]])
    return values[0] if len(values) == 1 else "".join(values)


def as_lists(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_lists(v) for v in value]
    return value


def same(a, b) -> bool:
    a, b = as_lists(a), as_lists(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (np.isnan(a) and np.isnan(b))
    return a == b


def test_the_browser_picks_what_the_page_draws():
    page = GlorotPage(query={"run": "h100", "activation": "tanh"})
    spec = page.browser.holder.args["spec"]
    assert set(spec["controls"]) == set(glorot.URL_PARAMS)
    assert {n for n, c in spec["controls"].items() if c["server"]} == set(glorot.SERVER_PARAMS)
    assert spec["controls"]["compare"]["query"] == ["false", "true"]  # url_state.format_query_value
    assert spec["controls"]["checkpoint"]["domain"] == list(range(41))
    tables = {t["target"]: t for t in spec["tables"]}
    domains = {n: spec["controls"][n]["domain"] for n in BROWSER_PARAMS}
    settings = list(itertools.product(*domains.values()))
    for combo in settings[::7] + settings[-3:]:
        state = dict(zip(BROWSER_PARAMS, combo))
        page.model.param.update(**state)
        full = {n: getattr(page.model, n) for n in glorot.URL_PARAMS}
        for target, (obj, attr) in page.browser.targets.items():
            shown = getattr(obj, attr)
            if target == "readout" or target.startswith("summary_"):  # the text Panel sends for an HTML pane
                shown = pn.pane.HTML()._transform_object(shown)["object"]
            elif target == "overflow_notice":
                shown = pn.pane.Alert()._transform_object(shown)["object"]
            elif attr == "data":
                shown = dict(shown)
            assert same(js_pick(spec, tables[target], full), shown), (target, state)


def test_browser_only_components_do_not_sync_back():
    slider = browser_only(pn.widgets.IntSlider)(start=0, end=3)
    radio = browser_only(pn.widgets.RadioButtonGroup)(options=["a", "b"], description="help")
    button = browser_only(pn.widgets.Button)(label="go")
    button.on_click(lambda event: None)
    for widget in (slider, radio, button):
        model = widget.get_root()
        assert not model.syncable and model.subscribed_events == set()
        assert all(not m.syncable for m in model.select({"type": Tooltip}))  # the description's tooltip too
    assert browser_only(pn.widgets.IntSlider) is browser_only(pn.widgets.IntSlider)
    pane = pn.pane.HTML("x")
    try:
        BrowserViews([Control("n", slider)], {"text": (pane, "object")})
    except TypeError as exc:
        assert "browser_only" in str(exc)
    else:
        raise AssertionError("a synced pane was accepted as a target")


def test_the_browsers_state_is_applied_by_the_server():
    page = GlorotPage(query={})
    watcher = page.browser.on_state(page._apply_browser_state)
    state = dict(
        run="cpu",
        activation="softsign",
        init="glorot_uniform",
        layer=2,
        checkpoint=7,
        snapshot="initial",
        grad_kind="weight",
        compare=False,
    )

    class Event:
        new = json.dumps({"state": state, "seq": 1})

    watcher(Event)
    assert {n: getattr(page.model, n) for n in state} == state
    assert "layer 2: mean activation" in page.readout.object and "checkpoint 7 of 20" in page.readout.object
    Event.new = '{"state": {"run": "h100", "checkpoint": 7}, "seq": 2}'  # another run: the checkpoint keeps its
    watcher(Event)  # fraction of training (7 of 20 -> 14 of 40)
    assert page.model.run == "h100" and page.model.checkpoint == 14
    Event.new = '{"state": {"layer": 99}, "seq": 3}'  # not a value of the control: ignored
    watcher(Event)
    Event.new = "not json"
    watcher(Event)
    assert page.model.layer == 2 and not page.notice.visible


def test_floats_are_sent_with_six_significant_digits_and_long_float_arrays_as_float32():
    x = np.array([0.012345678901234, -123456.789, 9.87654321e-30, 0.0, np.nan, np.inf, 2 / 3])
    sent = for_js({"line": {"y": x}}, SIGNIFICANT_DIGITS)["line"]["y"]
    assert json.dumps(sent) == "[0.0123457, -123457.0, 9.87654e-30, 0.0, NaN, Infinity, 0.666667]"
    finite = np.isfinite(x) & (x != 0)
    # the rounding's own bound: half a unit in the sixth significant digit
    assert np.all(np.abs(rounded(x)[finite] - x[finite]) <= 5e-6 * np.abs(x[finite]))
    image = for_js([np.linspace(0, 1, 200).reshape(10, 20)], SIGNIFICANT_DIGITS)[0]
    assert image.dtype == np.float32 and image.shape == (10, 20)
    assert for_js(np.arange(3), SIGNIFICANT_DIGITS) == [0, 1, 2]  # integers as they are


def test_new_tables_do_not_make_bokeh_recompute_the_documents_models(monkeypatch):
    """Setting a property whose value refers to models makes Bokeh walk the whole document again (``Model.trigger``
    → ``DocumentModelManager.recompute``: ~65 ms per combination move of the Glorot page, measured with py-spy on
    a served page). The tables go in a holder that refers to no model, so a move's new tables walk nothing."""
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource

    source = ColumnDataSource(data={"y": [0.0]})
    slider = browser_only(pn.widgets.IntSlider)(start=0, end=2)
    views = BrowserViews([Control("n", slider, server=True)], {"line": (source, "data")})
    doc = Document()
    doc.add_root(source)
    doc.add_root(views.apply)
    walks = []
    recompute = doc.models.recompute
    monkeypatch.setattr(doc.models, "recompute", lambda: walks.append(1) or recompute())
    domains = {"n": [0, 1, 2]}
    for k in (1, 2):
        views.set_tables(
            [Tables.of([(lambda s, k=k: {"line": {"y": np.array([s["n"] * k], float)}}, ["n"])], {}, domains)]
        )
    assert views.holder.args["spec"]["tables"][0]["target"] == "line"
    assert walks == []
