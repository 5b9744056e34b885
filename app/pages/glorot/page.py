"""Page "Glorot & Bengio 2010", the page: ``GlorotPage`` follows the ``Page`` lifecycle, draws the combination the
server-side controls choose and hands the browser-side controls their tables.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS.
"""

from __future__ import annotations

import logging

import numpy as np
import panel as pn
from bokeh.core.property.validation import without_property_validation
from bokeh.core.property.vectorization import value
from bokeh.models import ColumnDataSource, GlyphRenderer

from vgp_core import ConfigError
from vgp_core.experiments import glorot2010 as g10

from ...components.browser_views import BrowserViews, Control, Tables, browser_only
from ...components.explanation import explanation_panel
from ...components.figure_text import FigureText, paragraph, renderer_words, sentence
from ...components.page import Page, document_hold
from ...components.page_layout import page_layout
from ...components.url_state import apply_query
from .data import (
    INIT_LABELS,
    PAPER_JACOBIAN_SV,
    labels_by_key,
    load_result,
    other_init,
    paper_label,
    runs,
    unavailable_runs,
)
from .figures import GlorotFigures
from .model import BROWSER_PARAMS, DOWNLOAD_SELECTOR, EXPLANATION, PRESETS, SERVER_PARAMS, URL_PARAMS, GlorotModel
from .views import (
    _finite_or_nan,
    _layers,
    _lines,
    _Marks,
    _pct,
    _per_layer,
    browser_tables,
    committed_tables,
    comparison_notes,
    overflow_text,
)

log = logging.getLogger(__name__)
#: (run, activation, init) of a committed run -> its figures' summaries (``GlorotPage._summaries``).
_COMMITTED_SUMMARIES: dict[tuple[str, str, str], Tables] = {}


def _summary_target(figure: str) -> str:
    """The browser-side target of a figure's summary: a JS identifier (the browser's callbacks name the panes)."""
    return "summary_" + figure.replace("-", "_")


# ----------------------------------------------------------------------------------------------------------------
# The page


class GlorotPage(GlorotFigures, Page):
    """The views of ``GlorotModel``: created once per session, then updated in place."""

    Model = GlorotModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {"_on_change": URL_PARAMS}
    title = "Glorot & Bengio 2010"

    def __init__(
        self,
        model: GlorotModel | None = None,
        query: dict[str, str] | None = None,
        results: dict[str, g10.Glorot2010Result] | None = None,
    ):
        """``results``: run key -> result, replacing the committed file's (tests use it to feed a diverged run); it
        must have that file's depth and checkpoints, which set the controls' bounds. The rest as for ``Page``."""
        self._results = dict(results or {})
        super().__init__(model, query)

    def apply_query(self, query) -> list[str]:
        # the run first: the checkpoint's bounds depend on it
        return apply_query(self.model, URL_PARAMS[:1], query) + apply_query(self.model, URL_PARAMS[1:], query)

    def setup(self):
        """Every view is drawn from the committed runs; the view controls redraw in the browser (``BrowserViews``)."""
        self.overflow_notice = browser_only(pn.pane.Alert)("", alert_type="danger", visible=False, margin=(0, 5))
        self._marks: dict[str, int] = {}
        unavailable = unavailable_runs()
        if unavailable:  # a run file missing or unreadable: the others are shown
            self.notices.set(
                "data",
                "Committed run file(s) that could not be read, not shown: "
                + "; ".join(f"assets/glorot2010/{name} ({why})" for name, why in unavailable.items()),
            )
        self._build_figures()
        # every figure's text alternative, taken before the layout: the browser-side moves rewrite its summary
        self._texts = {name: FigureText.of(fig) for name, fig in self.figures().items()}
        self._widgets = self._make_widgets()
        self.browser = BrowserViews(
            [Control(name, self._widgets[name], server=name in SERVER_PARAMS) for name in URL_PARAMS],
            self._browser_targets(),
            DOWNLOAD_SELECTOR,
        )
        self._tables: list[Tables] = []
        self._tables_of: tuple | None = None  # what the tables are of: (combination, the server's marks)
        self._refresh(set(URL_PARAMS))
        self._watch(self.browser.on_state(self._apply_browser_state), ["value"], obj=self.browser.carrier)

    # ------------------------------------------------------------------------------------------------ data access
    def result(self, run: str | None = None) -> g10.Glorot2010Result:
        run = self.model.run if run is None else run
        return self._results[run] if run in self._results else load_result(run)

    def combo(self, init: str | None = None, activation: str | None = None, run: str | None = None):
        m = self.model
        return self.result(run).get(
            m.activation if activation is None else activation, m.init if init is None else init
        )

    def checkpoint_updates(self) -> int:
        return int(self.combo().run.checkpoint_updates[int(self.model.checkpoint)])

    # ------------------------------------------------------------------------------------------------ updates
    #: drawer -> the controls it depends on: the views of the combination, drawn by the server. The views of the
    #: browser-side controls are ``BROWSER_VIEWS``, drawn from their tables (``BrowserViews.draw``, and in the
    #: browser).
    DRAWERS = (
        ("_draw_trajectories", {"run", "activation", "init"}),
        ("_draw_jacobian", {"run", "activation"}),
        ("_draw_error_curves", {"run"}),
        ("_draw_error_highlight", {"run", "activation", "init"}),
        ("_draw_bars", {"run", "activation", "init"}),
        ("_draw_table", {"run", "activation", "init"}),
        ("_draw_titles", {"run", "activation", "init"}),
    )

    def _on_change(self, *events):
        self._refresh({e.name for e in events})

    def _apply_browser_state(self, state: dict) -> None:
        """The browser's state of every control, sent with a move of a server-side control (or before a
        download): the model takes it, and the views that depend on what changed are redrawn."""
        values = {k: v for k, v in state.items() if k in URL_PARAMS and v != getattr(self.model, k)}
        if not values:
            return
        try:
            # one message back: the redraw and the address of the new state (the URL mirror) arrive together,
            # before the browser re-applies any move made meanwhile
            with document_hold(self._doc):
                self.model.param.update(**values)
        except (ValueError, TypeError) as exc:  # not a value of the control: the browser sent something else
            log.warning("Glorot & Bengio page: ignored the browser's state %r: %s", values, exc)

    def _state(self) -> dict:
        return {name: getattr(self.model, name) for name in URL_PARAMS}

    def _refresh(self, changed: set[str]):
        @without_property_validation  # the page builds every value itself; validation was half of a move's time
        def work():
            with document_hold(self._doc):
                for name, deps in self.DRAWERS:
                    if deps & changed:
                        getattr(self, name)()
                combination = (self.model.run, self.model.activation, self.model.init)
                # the tables of the combination, and the overflow notice's (which counts the server's marks too)
                key = (combination, sum(self._marks.values()))
                new_tables = key != self._tables_of
                if new_tables:  # sent to the browser
                    drawn, counts = self._browser_tables(*combination)
                    self._tables = [drawn, self._overflow_tables(counts), self._summaries(combination, drawn)]
                    self._tables_of = key
                    self.browser.set_tables(self._tables)
                self.browser.draw(self._state(), None if new_tables else changed)
                self.browser.redrawn()
            self.notices.clear("setting", "failure")

        self._guard(work)

    def _browser_tables(self, run: str, activation: str, init: str) -> tuple[Tables, Tables]:
        if run in self._results:
            return browser_tables(self._results[run], run, activation, init)
        return committed_tables(run, activation, init)

    def _overflow_tables(self, counts: Tables) -> Tables:
        """The overflow notice (text and visibility) for every setting of the controls its counts depend on: the
        marks of the browser-side views (``counts``) plus those of the server's (``self._marks``)."""
        deps = [name for name in BROWSER_PARAMS if any(name in counts.deps(k) for k in counts.parts)]
        fixed = sum(self._marks.values())

        def notice(s):
            n = fixed + sum(counts.value(k, s) for k in counts.parts)
            return {"overflow_notice": overflow_text(n), "overflow_visible": bool(n)}

        return Tables.of([(notice, deps)], {}, counts.domains)

    def _summaries(self, combination: tuple[str, str, str], drawn: Tables) -> Tables:
        """``_summary_tables`` of the combination; of a committed run, made once per process for every session
        (the figures are alike, their data the run's), like ``committed_tables``."""
        if combination[0] in self._results:
            return self._summary_tables(drawn)
        if combination not in _COMMITTED_SUMMARIES:
            _COMMITTED_SUMMARIES[combination] = self._summary_tables(drawn)
        return _COMMITTED_SUMMARIES[combination]

    def _summary_tables(self, drawn: Tables) -> Tables:
        """Each figure's summary (``figure_text.summary``, as its paragraph: target ``_summary_target(figure)``)
        for every setting of the browser-side controls that its sources and title depend on, read from ``drawn``: a
        move in the browser shows the summary of what it draws (WCAG 1.1.1), and the server's own summary of the
        same state is the same text (so its refresh sends nothing). Each glyph's words are made once per value its
        source takes (a table stores equal values once), then only joined per setting."""
        targets = self.browser.targets
        source_target = {obj: k for k, (obj, attr) in targets.items() if attr == "data" and k in drawn.parts}
        title_target = {obj: k for k, (obj, attr) in targets.items() if attr == "text" and k in drawn.parts}
        views = []
        for name, fig in self.figures().items():
            glyphs, used = [], set()  # per glyph with data: (its source's target or None, its words)
            for i, r in enumerate(fig.renderers):
                if not isinstance(r, GlyphRenderer) or not isinstance(r.data_source, ColumnDataSource):
                    continue
                target = source_target.get(r.data_source)
                if target is None:  # drawn by the server: the same for every browser-side setting
                    glyphs.append((None, renderer_words(fig, i, r.data_source.data)))
                    continue
                (part,) = drawn.parts[target]
                glyphs.append((target, {id(v): renderer_words(fig, i, v) for v in part.values}))
                used |= set(part.deps)
            title = title_target.get(fig.title)
            used |= drawn.deps(title) if title else set()

            def view(state, fig=fig, glyphs=glyphs, title=title, name=name):
                words = [w if t is None else w[id(drawn.value(t, state))] for t, w in glyphs]
                heading = drawn.value(title, state) if title else fig.title.text
                return {_summary_target(name): paragraph(sentence(heading or "Figure", words))}

            views.append((view, [p for p in BROWSER_PARAMS if p in used]))
        return Tables.of(views, self._state(), drawn.domains)

    def _browser_targets(self) -> dict:
        """What the tables set: target name -> (object, attribute)."""
        sources = [
            "traj_highlight",
            "traj_checkpoint",
            "bp_var_ckpt",
            "wg_var_ckpt",
            "act_hist",
            "act_hist_cmp",
            "act_hist_marks",
            "grad_hist",
            "grad_hist_cmp",
            "grad_hist_marks",
            "act_hist_hl",
            "grad_hist_hl",
            "bp_var",
            "bp_var_cmp",
            "bp_var_marks",
            "wg_var",
            "wg_var_cmp",
            "wg_var_marks",
            "bp_var_hl",
            "wg_var_hl",
            "profile_source",
            "profile_marks",
            "profile_hl",
            "jac_hl",
        ]
        targets = {name: (getattr(self, name), "data") for name in sources}
        targets.update(
            {
                name: (getattr(self, name), "location")
                for name in ("traj_span", "bp_var_span", "wg_var_span", "curve_span")
            }
        )
        targets.update(
            {
                "act_hist_title": (self.act_hist_figure.title, "text"),
                "grad_hist_title": (self.grad_hist_figure.title, "text"),
                "profile_title": (self.profile_figure.title, "text"),
                "readout": (self.readout, "object"),
                "overflow_notice": (self.overflow_notice, "object"),
                "overflow_visible": (self.overflow_notice, "visible"),
            }
        )
        targets.update({_summary_target(name): (text.text, "object") for name, text in self._texts.items()})
        return targets

    def _draw_trajectories(self):
        run = self.combo().run
        x = run.checkpoint_updates.astype(np.float64)
        marks = _Marks()
        data = {"x": x}
        # activations of sigmoid, tanh and softsign lie in [-1, 1]: non-finite marks go just above.
        data.update(_per_layer(x, run.act_mean, "mean", marks, False, 1.1, -1.1))
        self.traj_source.data = data
        self.traj_pct.data = _lines(x, [run.act_p98, run.act_p2], marks, False, 1.1, -1.1)
        self.traj_marks.data = marks.data()
        self._marks["trajectories"] = marks.n

    def _draw_jacobian(self):
        layers = _layers(self.result()).astype(np.float64)
        marks = _Marks()
        data = {"layer": layers}
        for init in g10.INITS:
            run = self.combo(init).run
            for when in ("initial", "final"):
                clean, over, under = _finite_or_nan(getattr(run, when).jacobian_sv_mean)
                # a mean singular value is >= 0; non-finite marks go at the top of the plotted values
                marks.add(layers, over, under, 1.0, 0.0)
                data[f"{init}_{when}"] = clean
        self.jac_source.data = data
        finite = np.concatenate([v[np.isfinite(v)] for k, v in data.items() if k != "layer"])
        top = max([*PAPER_JACOBIAN_SV.values(), *(finite.tolist() or [0.0])])
        self.jac_range.update(start=0.0, end=round(1.1 * top, 2))
        self.jac_marks.data = marks.data()
        self._marks["jacobian"] = marks.n

    def _draw_error_curves(self):
        result = self.result()
        x = result.combinations[0].run.checkpoint_updates.astype(np.float64)
        marks = _Marks()
        data = {"x": x}
        for a in g10.ACTIVATIONS:
            for i in g10.INITS:
                try:
                    err = 100 * np.asarray(result.get(a, i).run.probe_error, np.float64)
                except ConfigError:  # a run without this combination
                    err = np.full(len(x), np.nan)
                clean, over, under = _finite_or_nan(err)
                marks.add(x, over, under, 100.0, 0.0)
                data[f"{a}_{i}"] = clean
        self.curve_source.data = data
        self.curve_marks.data = marks.data()
        self._marks["error_curves"] = marks.n

    def _draw_error_highlight(self):
        run = self.combo().run
        self.curve_hl.data = dict(
            x=run.checkpoint_updates.astype(np.float64),
            y=_finite_or_nan(100 * np.asarray(run.probe_error, np.float64))[0],
        )

    def _bar_values(self, series: str) -> np.ndarray:
        """Test error (%) of every (activation, init) for one bar series, NaN where there is none."""
        out = []
        for a in g10.ACTIVATIONS:
            for i in g10.INITS:
                if series == "paper":
                    v = g10.PAPER_TABLE1_SHAPESET.get((a, i))
                    out.append(float("nan") if v is None else float(v))
                    continue
                try:
                    c = self.result(series.split(":", 1)[1]).get(a, i)
                    out.append(100 * c.run.test_error)
                except ConfigError:
                    out.append(float("nan"))
        return np.asarray(out, np.float64)

    def _draw_bars(self):
        chosen = paper_label(self.model.activation, self.model.init)
        labels = [paper_label(a, i) for a in g10.ACTIVATIONS for i in g10.INITS]
        for s in self._bar_series:
            values = self._bar_values(s)
            finite = np.isfinite(values)
            shown = s == "paper" or s == f"run:{self.model.run}"
            self.bar_sources[s].data = dict(
                x=labels,
                top=np.where(finite, values, np.nan),
                alpha=np.full(len(labels), 0.95 if shown else 0.3),
                line_width=np.array([2.0 if lab == chosen else 0.0 for lab in labels]),
                text=[f"{v:.1f}" if f else ("not in Table 1" if s == "paper" else "—") for v, f in zip(values, finite)],
                y_text=np.where(finite, values, 0.0) + 1.0,
            )

    def _draw_table(self):
        keys = list(runs().values())
        head = "| | " + " | ".join(f"ours: {labels_by_key()[r]}" for r in keys) + " | paper, Table 1 |"
        rows = [head, "|---" * (len(keys) + 2) + "|"]
        chosen = (self.model.activation, self.model.init)
        for a in g10.ACTIVATIONS:
            for i in g10.INITS:
                cells = []
                for r in keys:
                    try:
                        run = self.result(r).get(a, i).run
                    except ConfigError:
                        cells.append("—")
                        continue
                    value = "diverged" if run.diverged else _pct(run.test_error)
                    cell = f"{value} (lr {run.learning_rate:g})"
                    cells.append(f"**{cell}**" if r == self.model.run else cell)
                paper = g10.PAPER_TABLE1_SHAPESET.get((a, i))
                label = paper_label(a, i)
                label = f"**▶ {label}**" if (a, i) == chosen else label
                paper_cell = "—" if paper is None else f"{paper:.2f} %"
                rows.append(f"| {label} | " + " | ".join(cells) + f" | {paper_cell} |")
        result = self.result()
        cfg = result.config
        intro = (
            f"#### Test error (%), our runs and Table 1\nOurs on {cfg.test_size:,} fresh test images; "
            f"learning rate chosen from {', '.join(f'{v:g}' for v in cfg.lr_grid)} on "
            f"{cfg.validation_size:,} validation images after {cfg.search_updates:,} updates. "
            f"The paper has no Sigmoid N row.\n\n"
        )
        notes = "\n\n".join(comparison_notes(result))
        self.table_text.object = intro + "\n".join(rows) + f"\n\n**{labels_by_key()[self.model.run]}:**\n\n" + notes

    def _draw_titles(self):
        """The titles of the combination (those naming a browser-side choice: ``_titles``)."""
        m = self.model
        combo = paper_label(m.activation, m.init)
        device = labels_by_key()[m.run].split(" (")[0]
        self.traj_figure.title.text = f"{combo}: activations during training ({device})"
        self.bp_var_figure.title.text = f"{combo}: Var[∂C/∂s] per layer during training"
        self.wg_var_figure.title.text = f"{combo}: Var[∂C/∂W] per layer during training"
        self.jac_figure.title.text = f"{m.activation.capitalize()}: mean singular value of each layer's Jacobian"
        self.curve_figure.title.text = f"Error on the 300 probe images during training ({device})"
        label = value(f"{INIT_LABELS[other_init(m.init)]} init (dashed)")
        for item in self._cmp_legend_items:
            item.label = label

    # ------------------------------------------------------------------------------------------------ protocol
    def _make_widgets(self) -> dict:
        """Every control's widget, keeping the browser's moves in the browser (``browser_only``): the browser-side
        ones redraw there, the server-side ones send the browser's state (``BrowserViews``)."""
        m, w = self.model, pn.widgets
        return {
            "run": browser_only(w.Select).from_param(m.param.run, label="committed run"),
            "activation": browser_only(w.Select).from_param(m.param.activation, label="activation"),
            "init": browser_only(w.Select).from_param(m.param.init, label="initialization"),
            "layer": browser_only(w.IntSlider).from_param(m.param.layer, label="layer (1 = input side)"),
            "checkpoint": browser_only(w.IntSlider).from_param(
                m.param.checkpoint, label="checkpoint (0 = initialization)"
            ),
            "snapshot": browser_only(w.RadioButtonGroup).from_param(m.param.snapshot, label="histograms"),
            "grad_kind": browser_only(w.RadioButtonGroup).from_param(
                m.param.grad_kind, label="gradient histograms show"
            ),
            "compare": browser_only(w.Checkbox).from_param(
                m.param.compare, label="compare with the other initialization (dashed)"
            ),
        }

    def controls(self) -> pn.Column:
        w = self._widgets
        return pn.Column(
            "### Run",
            w["run"],
            w["activation"],
            w["init"],
            "### Views",
            w["layer"],
            w["checkpoint"],
            w["snapshot"],
            w["grad_kind"],
            w["compare"],
            *self.browser.hidden(),
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [self.browser.preset_bar(PRESETS), self.notice, self.overflow_notice, self.readout],
            self.figures(),
            [self.table_text, explanation_panel(EXPLANATION)],
        )

    def figures(self) -> dict:
        return {
            "activation-trajectories": self.traj_figure,
            "activation-histogram": self.act_hist_figure,
            "gradient-histogram": self.grad_hist_figure,
            "jacobian-singular-values": self.jac_figure,
            "backprop-gradient-variance": self.bp_var_figure,
            "weight-gradient-variance": self.wg_var_figure,
            "gradient-variance-profile": self.profile_figure,
            "error-during-training": self.curve_figure,
            "test-error": self.bar_figure,
        }
