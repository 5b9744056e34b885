"""Page "Remedies": every remedy of the vanishing gradient measured on the same hard baseline, side by side.

One module of ~1,000 lines, on purpose: the page's model, its URL round trip, its result cache and its views
with their redraw table are one page read top to bottom (the result cache is the first candidate to move out).

The lab (:mod:`vgp_core.experiments.remedies`) trains a deep logistic-sigmoid MLP with the standard init (the
baseline) and, for each chosen remedy, the same net with one thing changed. The page streams the results in as
they finish (one background run per session, cancelled by the next change) and shows the per-layer gradient
profiles overlaid, the loss curves, a ranked table with the literature's prediction checked, and Veit et al.'s
path-length view of a residual net. Finished results are cached per (settings, remedy) in the process, so a class
loading the default page computes it once. ``RemediesModel`` declares every control; ``RemediesPage`` owns the
figures (created once) and updates their data sources in place.
"""

from __future__ import annotations

import collections
import html
import re
import threading
import time

import numpy as np
import panel as pn
import param
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    FactorRange,
    HoverTool,
    HTMLTemplateFormatter,
    Legend,
    LegendItem,
    NumberFormatter,
    Span,
    TableColumn,
)
from bokeh.palettes import Colorblind
from bokeh.plotting import figure

from vgp_core import ConfigError, bounds
from vgp_core.experiments import remedies as lab

from ..components.browser_views import BrowserViews, Control, Tables, browser_layout, browser_only
from ..components.config_controls import control
from ..components.explanation import explanation_panel
from ..components.figure_text import DECORATION, FigureText, paragraph, summary
from ..components.heatmap import OVERFLOW_COLOR
from ..components.numeric import positive_or_nan
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.presets import preset_bar
from ..components.training import VIEWS
from ..components.url_state import apply_query, format_query_value

BASELINE = "baseline"
#: Every remedy the user can pick (the baseline always runs: every ratio is measured against it).
REMEDY_NAMES = tuple(r.name for r in lab.REMEDIES if r.name != BASELINE)
_ENTRY = {r.name: r for r in lab.REMEDIES}
#: The lab's slow entries (seconds each at the default settings on two cores, against ~1 s for the others): the
#: default selection leaves them out so the default page completes quickly; the "everything" preset adds them.
SLOW = ("rprop", "pretraining", "evolution")
DEFAULT_REMEDIES = [n for n in REMEDY_NAMES if n not in SLOW]
WIDTHS = [32, 64, 128, 256]
LEARNING_RATES = [0.01, 0.03, 0.1, 0.3, 1.0]
PROFILE_CHOICES = ["after training", "at initialization"]
#: the download buttons under the figures: before a press the browser sends its profile choice (``BrowserViews``)
DOWNLOAD_SELECTOR = ".vgp-download"
#: Wait this long after the last change before a new lab run starts (a dragged slider fires many changes).
DEBOUNCE_MS = 400
#: Finished results kept in the process (per settings and remedy): 17 entries × ~15 settings; a result holds a few
#: arrays of depth and steps floats (a few KB).
CACHE_ITEMS = 256

#: The ranked table grows with its rows (no inner scroll bar): header and row heights in pixels.
TABLE_HEADER_PX, TABLE_ROW_PX = 32, 26

LAB = ["remedies", "depth", "width", "steps", "learning_rate", "seed"]
VIEW = ["profile", "veit_blocks"]
URL_PARAMS = LAB + VIEW + ["auto_run"]


def _names_in_group(*groups: str) -> list[str]:
    return [r.name for r in lab.REMEDIES if r.group in groups and r.name != BASELINE]


PRESETS = {
    "activations": dict(remedies=_names_in_group("activation")),
    "initializations": dict(remedies=_names_in_group("initialization")),
    "normalization & architecture": dict(remedies=_names_in_group("normalization", "architecture", "recurrent")),
    "optimizers, pre-training, no gradients": dict(
        remedies=_names_in_group("optimizer", "pre-training", "gradient-free")
    ),
    "quick set": dict(remedies=list(DEFAULT_REMEDIES)),
    "everything": dict(remedies=list(REMEDY_NAMES)),
}

# ---------------------------------------------------------------------------------------------------------- styles
#: Okabe-Ito (bokeh's Colorblind palette) without black (the baseline's) and yellow (unreadable on white): six
#: colours, repeated with a new dash pattern for every six remedies.
_COLORS = [c for c in Colorblind[8] if c not in ("#000000", "#F0E442")]
_DASHES = ["solid", "dashed", "dotted", "dashdot"]
#: one marker per remedy, so that no two entries of a legend differ by colour alone (a colour-blind reader, a
#: black-and-white print of an exported figure); "x" is left to the overflow marks.
_MARKERS = [
    "circle", "square", "triangle", "diamond", "inverted_triangle", "hex", "star", "plus", "circle_x",
    "square_x", "triangle_dot", "diamond_cross", "asterisk", "circle_cross", "square_pin", "triangle_pin", "y",
]  # fmt: skip
#: markers drawn on about this many points of a line (every point would hide the line's shape)
MARKS_PER_LINE = 8
BASELINE_STYLE = dict(color="#000000", line_width=3.5, line_dash="solid")


def remedy_style(name: str) -> dict:
    """Colour, width and dash of a remedy's lines (fixed per remedy, whatever the selection)."""
    if name == BASELINE:
        return dict(BASELINE_STYLE)
    i = REMEDY_NAMES.index(name)
    return dict(color=_COLORS[i % len(_COLORS)], line_width=2, line_dash=_DASHES[(i // len(_COLORS)) % len(_DASHES)])


def remedy_marker(name: str) -> str | None:
    """The marker drawn on a remedy's lines (None for the baseline, told apart by its black, wider line)."""
    return None if name == BASELINE else _MARKERS[REMEDY_NAMES.index(name) % len(_MARKERS)]


def marker_rows(y: np.ndarray) -> np.ndarray:
    """``y`` with NaN everywhere but at about ``MARKS_PER_LINE`` evenly spaced points (NaN points are not drawn)."""
    out = np.full(y.shape, np.nan)
    if y.size:
        step = max(1, int(np.ceil(y.size / MARKS_PER_LINE)))
        out[::step] = y[::step]
    return out


EXPLANATION = (
    (
        "md",
        """### The lab
The **baseline** is the net that made the vanishing gradient famous: a deep MLP of logistic-sigmoid layers with the
standard initialization U[±1/√n] (Glorot & Bengio 2010, Eq. 1), trained with plain SGD. Each **remedy** changes one
thing and is measured the same way: the per-layer gradient ‖∂L/∂h_l‖ on a fixed probe batch (at initialization and
after training), the loss curve, held-out loss and accuracy, and the change of the *input layer's* gradient against
the baseline's. The table ranks the remedies by held-out loss and checks each against what its paper predicts.
In mean-field theory the gradient's variance is multiplied per layer by""",
    ),
    (
        "tex",
        r"\chi_1 = \sigma_w^2\,\mathbb{E}_{z\sim\mathcal N(0,1)}\big[\phi'(\sqrt{q^*}\,z)^2\big],"
        r"\qquad \frac{\|\partial L/\partial h_1\|^2}{\|\partial L/\partial h_L\|^2}\approx\chi_1^{L-1},",
    ),
    (
        "md",
        """so anything that brings χ₁ towards 1 helps. The sigmoid's φ′ ≤ 1/4 gives χ₁ ≈ 0.02 with the standard
init. **ReLU**-type activations have φ′ = 1 on active units; **Glorot / He / orthogonal** inits raise σ_w²;
**Kumar**'s σ_w = 3.6/√N (σ_w² = 12.96) still leaves χ₁ ≈ 0.36 < 1 for the sigmoid — it raises the gradient but
does *not* cure the vanishing, and the lab says so. **Batch normalization** keeps every layer's input at unit scale.
**Gradient clipping** only shortens long steps and **Rprop** uses only the gradient's sign: neither changes ∂L/∂h.
**Pre-training** (layer-wise RBMs) starts from better weights; the **evolution strategy** uses no gradient at all.

### Residual connections and Veit's paths
With h_l = h_{l−1} + f_l(h_{l−1}) every layer's Jacobian is the identity plus the branch's:""",
    ),
    (
        "tex",
        r"\frac{\partial L}{\partial h_{l}} = \frac{\partial L}{\partial h_L}\prod_{k=l+1}^{L}"
        r"\big(I + \nabla f_k\big) = \frac{\partial L}{\partial h_L}\big(I + \nabla f_{l+1} + \nabla f_{l+2}"
        r"\nabla f_{l+1} + \cdots\big).",
    ),
    (
        "md",
        """Multiplying out the product over n blocks gives 2ⁿ paths; a path that takes k residual branches
has length k, so path lengths follow""",
    ),
    ("tex", r"P(\text{length}=k) = \binom{n}{k}\,2^{-n} \quad(\text{Binomial}(n, 1/2)),"),
    (
        "md",
        """centred on n/2 — yet each branch shrinks the gradient, so the gradient that reaches the input comes
from the *short* paths (Veit, Wilber & Belongie 2016): the last plot splits the measured ∂L/∂h₁ exactly by path
length. The **LSTM** is the recurrent net's remedy: see the [Recurrent network](?page=recurrent) page.
**Magenta crosses**: a value overflowed float32 (inf/NaN) or underflowed to 0.""",
    ),
)


#: the bounds of LabConfig (vgp_core.bounds): defaults and the ranges the controls offer
LAB_BOUNDS = bounds.of(lab.LabConfig)


class RemediesModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    remedies = param.ListSelector(
        default=list(DEFAULT_REMEDIES),
        objects=list(REMEDY_NAMES),
        doc="Remedies to measure against the baseline (which always runs).",
    )
    depth = control(LAB_BOUNDS["depth"], doc="Hidden layers L of every net.")
    # the lab's default width: the programs the server compiles at start-up (app/warmup.py) are those of LabConfig()
    width = param.Selector(
        default=lab.LabConfig.width, objects=WIDTHS, doc="Units per hidden layer (each width compiles once)."
    )
    steps = control(
        LAB_BOUNDS["steps"],
        step=lab.CHUNK,
        doc=f"Training steps of every net (a multiple of {lab.CHUNK}; generations of the evolution strategy).",
    )
    learning_rate = param.Selector(
        default=lab.LabConfig.learning_rate,
        objects=LEARNING_RATES,
        doc="SGD learning rate (Rprop uses its own step size).",
    )
    seed = control(LAB_BOUNDS["seed"], doc="Random seed of weights and data.")
    profile = param.Selector(
        default=PROFILE_CHOICES[0], objects=PROFILE_CHOICES, doc="Which per-layer gradient the profile plot shows."
    )
    veit_blocks = param.Integer(
        19, bounds=(1, lab.MAX_LAB_DEPTH - 1), doc="Residual blocks n of the path-length analysis (Veit et al. 2016)."
    )
    auto_run = param.Boolean(True, doc="Run the lab automatically after every change (otherwise press Run).")

    def config(self) -> lab.LabConfig:
        steps = int(self.steps)
        steps -= steps % lab.CHUNK  # slider steps are CHUNK apart; a URL may ask for any number
        return lab.LabConfig(
            depth=int(self.depth),
            width=int(self.width),
            steps=max(steps, lab.CHUNK),
            learning_rate=float(self.learning_rate),
            seed=int(self.seed),
        )

    def selected(self) -> list[str]:
        """The chosen remedies in the lab's order."""
        chosen = set(self.remedies)
        return [n for n in REMEDY_NAMES if n in chosen]


# ------------------------------------------------------------------------------------------------------- URL query
def parse_remedies(raw: str) -> tuple[list[str] | None, str | None]:
    """(names, notice) for ``?remedies=a,b,c`` ("all" = every remedy, "" = none: the baseline alone); unknown names
    are dropped with a notice; None when nothing valid is left of a non-empty value."""
    text = raw.strip()
    if text.lower() == "all":
        return list(REMEDY_NAMES), None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    known = [p for p in parts if p in REMEDY_NAMES]
    unknown = [p for p in parts if p not in REMEDY_NAMES and p != BASELINE]
    notice = None
    if unknown:
        notice = (
            f"ignored remedies {', '.join(repr(u) for u in unknown)}: choose from {', '.join(REMEDY_NAMES)} "
            "(comma-separated) or all"
        )
    if parts and not known and unknown:
        return None, notice
    return [n for n in REMEDY_NAMES if n in known], notice


def apply_page_query(model: RemediesModel, query: dict[str, str]) -> list[str]:
    """Set the model from a URL query; the remedy list is comma-separated, the rest as on every page."""
    notices = []
    if "remedies" in query:
        names, notice = parse_remedies(query["remedies"])
        if notice:
            notices.append(notice)
        if names is not None:
            model.remedies = names
    notices += apply_query(model, [n for n in URL_PARAMS if n != "remedies"], query)
    if "steps" in query and model.steps % lab.CHUNK:
        fixed = max(lab.CHUNK, int(model.steps) - int(model.steps) % lab.CHUNK)
        notices.append(f"steps={model.steps} is not a multiple of {lab.CHUNK}: using {fixed}")
        model.steps = fixed
    return notices


def mirror_page_to_url(model: RemediesModel) -> None:
    """Keep the URL in step with the model (``remedies`` comma-separated); no-op outside a server session."""
    location = pn.state.location
    if location is None:
        return

    def push(*events):
        location.update_query(
            **{e.name: format_query_value(model.selected() if e.name == "remedies" else e.new) for e in events}
        )

    model.param.watch(push, URL_PARAMS)


# ----------------------------------------------------------------------------------------------------------- cache
class ResultCache:
    """Finished lab results per (LabConfig, remedy name), least recently used dropped first; shared by every
    session of the process (thread-safe)."""

    def __init__(self, max_items: int = CACHE_ITEMS):
        self.max_items = max_items
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, config: lab.LabConfig, name: str):
        with self._lock:
            item = self._items.get((config, name))
            if item is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end((config, name))
            return item

    def put(self, config: lab.LabConfig, name: str, result) -> None:
        with self._lock:
            self._items[(config, name)] = result
            self._items.move_to_end((config, name))
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


CACHE = ResultCache()


def lab_results(config: lab.LabConfig, names) -> collections.abc.Iterator:
    """The baseline, then each of ``names``, from the cache or measured (and cached) one at a time: the same results
    as ``lab.run_lab_iter(config, names)``. The cache is checked just before each measurement, so sessions that
    share the worker never measure the same entry twice."""
    baseline = CACHE.get(config, BASELINE)
    if baseline is None:
        baseline = lab.run_remedy(BASELINE, config)
        CACHE.put(config, BASELINE, baseline)
    if BASELINE in names:
        yield baseline
    for name in names:
        if name == BASELINE:
            continue
        result = CACHE.get(config, name)
        if result is None:
            result = lab.run_remedy(name, config, baseline)
            CACHE.put(config, name, result)
        yield result


def measure_default_lab():
    """The default page's lab, one measured entry per item, into the cache every session shares (server start-up
    measures it, so the first students find it cached)."""
    model = RemediesModel()
    return lab_results(model.config(), [BASELINE] + model.selected())


def prefill_default_cache() -> float:
    """Measure the default page's lab at once; returns the seconds it took."""
    t0 = time.perf_counter()
    for _ in measure_default_lab():
        pass
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------------- figures
def _is_feedforward(result) -> bool:
    """False for the LSTM link entry, whose per-layer arrays are all NaN by design (not an overflow)."""
    return result.recurrent is None and bool(
        np.isfinite(np.asarray(result.grad_init, float)).any() or np.isfinite(np.asarray(result.loss, float)).any()
    )


class MultiLine:
    """One line per lab entry (fixed colour and dash), on a log or linear y axis, with the entries' non-finite
    points drawn as magenta crosses at the top (overflow) or bottom (underflow) edge. Created once; ``update``
    replaces the data of every entry in place and shows legend items only for the entries drawn."""

    def __init__(
        self, title: str, x_label: str, y_label: str, y_axis_type: str = "log", width: int = 640, height: int = 360
    ):
        self.log = y_axis_type == "log"
        fig = figure(
            title=title,
            x_axis_label=x_label,
            y_axis_label=y_label,
            y_axis_type=y_axis_type,
            width=width,
            height=height,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
        )
        self.sources: dict[str, ColumnDataSource] = {}
        self.renderers = {}
        self.items: dict[str, LegendItem] = {}
        for name in (BASELINE,) + REMEDY_NAMES:
            src = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0), y_mark=np.zeros(0), label=[]))
            style = remedy_style(name)
            r = fig.line("x", "y", source=src, **style)
            self.sources[name], self.renderers[name] = src, r
            shown = [r]
            if (marker := remedy_marker(name)) is not None:
                # a decoration of the line: figure summaries and data tables skip it (figure_text.DECORATION)
                marks = fig.scatter(
                    "x", "y_mark", source=src, marker=marker, size=7, color=style["color"], fill_color="white",
                    line_width=1.5,
                )  # fmt: skip
                marks.tags = [DECORATION]
                shown.append(marks)
            self.items[name] = LegendItem(label=_ENTRY[name].label, renderers=shown)
        self.marks = ColumnDataSource(data=dict(x=[], y=[], label=[], kind=[]))
        mark_renderer = fig.scatter(
            "x", "y", source=self.marks, marker="x", size=10, line_width=2, color=OVERFLOW_COLOR
        )
        self.mark_item = LegendItem(label="overflow (inf/NaN) or underflow (0)", renderers=[mark_renderer])
        fig.add_tools(
            HoverTool(
                renderers=list(self.renderers.values()),
                tooltips=[("", "@label"), (x_label, "@x"), (y_label, "@y{0.000e}")],
            )
        )
        self.legend = Legend(
            items=[],
            click_policy="hide",
            label_text_font_size="8pt",
            spacing=0,
            padding=4,
            glyph_width=24,
            glyph_height=12,
            background_fill_alpha=0.7,
        )
        fig.add_layout(self.legend, "right")
        self.figure = fig

    def drawn(self, curves: dict) -> tuple[dict, dict]:
        """What ``update`` draws, without drawing it: (entry name -> its source's data, the marks' data).
        ``curves``: name -> (x, y) for the entries to draw (the others get empty data)."""
        finite_all, marks, clean_of = [], [], {}
        for name in self.sources:
            if name not in curves:
                continue
            x, y = (np.asarray(a, np.float64) for a in curves[name])
            if self.log:
                clean, over, under = positive_or_nan(y)
            else:
                over, under = ~np.isfinite(y), np.zeros(y.shape, bool)
                clean = np.where(over, np.nan, y)
            finite_all.append(clean[np.isfinite(clean)])
            marks += [(xx, "overflow", name) for xx in x[over]] + [(xx, "underflow", name) for xx in x[under]]
            clean_of[name] = (x, clean)
        finite = np.concatenate(finite_all) if finite_all else np.zeros(0)
        top = float(finite.max()) if finite.size else 1.0
        bottom = float(finite.min()) if finite.size else (0.1 if self.log else 0.0)
        if self.log:
            top, bottom = top * 10, bottom / 10
        data = {}
        for name in self.sources:
            if name in clean_of:
                x, clean = clean_of[name]
                data[name] = dict(x=x, y=clean, y_mark=marker_rows(clean), label=[_ENTRY[name].label] * len(x))
            else:
                data[name] = dict(x=np.zeros(0), y=np.zeros(0), y_mark=np.zeros(0), label=[])
        marks_data = dict(
            x=[m[0] for m in marks],
            y=[top if m[1] == "overflow" else bottom for m in marks],
            label=[_ENTRY[m[2]].label for m in marks],
            kind=[m[1] for m in marks],
        )
        return data, marks_data

    def show_legend(self, names, marks: bool) -> None:
        """Legend items for the entries ``names`` (those drawn), and for the marks when there are any."""
        items = [self.items[n] for n in self.sources if n in names]
        self.legend.items = items + ([self.mark_item] if marks else [])

    def update(self, curves: dict) -> int:
        """Draw ``curves`` (see ``drawn``; an entry emptied already is not sent again). Returns the marked points."""
        data, marks = self.drawn(curves)
        for name, src in self.sources.items():
            if name in curves or len(src.data["x"]):
                src.data = data[name]
        self.marks.data = marks
        self.show_legend(curves, bool(marks["x"]))
        return len(marks["x"])


def _pow10(x: float) -> str:
    if not np.isfinite(x):
        return "n/a" if np.isnan(x) else ("∞" if x > 0 else "0")
    return f"×10^{x:+.1f}"


def _num(x: float, fmt: str) -> str:
    return format(x, fmt) if np.isfinite(x) else ("n/a" if np.isnan(x) else ("inf" if x > 0 else "-inf"))


def _code(text: str) -> str:
    """`name` in escaped text -> <code>name</code>."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", text)


def table_rows(ranked) -> dict[str, list]:
    """The ranked table's columns (plain text; ``label_html`` / ``literature_html`` carry the HTML shown)."""
    rows = collections.defaultdict(list)
    for i, r in enumerate(ranked, 1):
        entry = _ENTRY[r.name]
        label = html.escape(r.label)
        link = r.link or entry.link
        rows["rank"].append(i)
        rows["name"].append(r.name)
        rows["label"].append(r.label)
        rows["label_html"].append(f'<a href="{html.escape(link)}" target="_top">{label} →</a>' if link else label)
        rows["group"].append(entry.group)
        rows["final_loss"].append(_num(r.final_loss, ".4f"))
        rows["accuracy"].append(_num(r.final_accuracy, ".3f"))
        rows["grad_change"].append("1 (reference)" if r.name == BASELINE else _pow10(r.input_grad_ratio))
        rows["direction"].append("—" if r.name == BASELINE else r.direction)
        rows["expected"].append(entry.expected)
        answer = "yes" if r.matches_literature else "NO"
        rows["literature"].append(f"{answer} — {r.verdict}")
        mark = answer if r.matches_literature else f'<b style="color:#D55E00">{answer}</b>'
        rows["literature_html"].append(
            f'<span title="{html.escape(r.verdict)}">{mark} — {html.escape(r.verdict)}</span>'
        )
        rows["verdict"].append(r.verdict)
        rows["wall_time"].append(f"{r.wall_time_s:.1f} s")
    return {k: list(v) for k, v in rows.items()} or {k: [] for k in TABLE_KEYS}


TABLE_KEYS = [
    "rank",
    "name",
    "label",
    "label_html",
    "group",
    "final_loss",
    "accuracy",
    "grad_change",
    "direction",
    "expected",
    "literature",
    "literature_html",
    "verdict",
    "wall_time",
]


class RemediesPage(Page):
    """The views of ``RemediesModel``: created once per session, then updated in place as results stream in."""

    Model = RemediesModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {
        "_on_lab_change": LAB,
        "_on_auto_run": ["auto_run"],
        "_on_profile": ["profile"],
        "_on_veit_blocks": ["veit_blocks"],
    }
    title = "Remedies"
    SETTLE_TIMEOUT_S = 300.0

    def setup(self):
        """The lab streams its entries from the training lane (cached ones are drawn at once); the path-length
        view comes from the views lane."""
        self._results: dict[str, object] = {}
        self._expected: list[str] = []
        self._config: lab.LabConfig | None = None
        self._run_id = 0
        self._running = False
        self._run_started = 0.0
        self._error: Exception | None = None
        self._veit_key = None
        self._veit_done = None
        self.timings: dict[str, float] = {}
        self._build_figures()
        self._runner = self.background_run(self._on_result, self._on_error)
        self._veit_runner = self.background_run(self._on_veit, self._on_veit_error, priority=VIEWS)
        self._start_veit()
        if self.model.auto_run:
            self.run()
        else:
            self._idle_text()

    def apply_query(self, query) -> list[str]:
        return apply_page_query(self.model, query)

    def mirror_to_url(self) -> None:
        mirror_page_to_url(self.model)

    def _on_profile(self, *_):
        self._guard(self._draw)

    def _on_veit_blocks(self, *_):
        self._start_veit()

    def _build_profile_choice(self):
        """The "profile shown" buttons pick, in the browser, between the two profiles the page holds (issue 11:
        nothing sent to the server); before a download the browser sends its choice, so the export shows it."""
        self.profile_choice = browser_only(pn.widgets.RadioButtonGroup).from_param(
            self.model.param.profile, name="profile shown"
        )
        fig = self.profiles.figure
        targets = {f"line-{name}": (source, "data") for name, source in self.profiles.sources.items()}
        targets |= {
            "marks": (self.profiles.marks, "data"),
            "title": (fig.title, "text"),
            "summary": (FigureText.of(fig).text, "object"),
        }
        self.browser = BrowserViews([Control("profile", self.profile_choice)], targets, DOWNLOAD_SELECTOR)
        browser_layout(fig)  # its ranges follow the browser's data: nothing to send back
        self._watch(self.browser.on_state(self._apply_browser_state), ["value"], obj=self.browser.carrier)

    def _apply_browser_state(self, state: dict) -> None:
        """The browser's choice, sent before a download: the server draws it too (and so exports it)."""
        if state.get("profile") in PROFILE_CHOICES:
            self.model.profile = state["profile"]

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        self.profiles = MultiLine(
            "Per-layer gradient ‖∂L/∂h_l‖ (baseline: thick black)", "layer (1 = input side)", "‖∂L/∂h_l‖"
        )
        self.losses = MultiLine("Training loss per step", "training step", "cross-entropy loss")
        self._build_profile_choice()
        self.rank_source = ColumnDataSource(data=dict(label=[], ratio=[], color=[], literature=[], loss=[]))
        rank = figure(
            title="Input-layer gradient vs the baseline (ranked by held-out loss, best at top)",
            y_range=FactorRange(factors=[]),
            x_axis_label="log10 (‖∂L/∂h_1‖ remedy / baseline) at init",
            width=640,
            height=360,
            tools="save,hover",
            toolbar_location="above",
            tooltips=[
                ("", "@label"),
                ("log10 change", "@ratio{0.00}"),
                ("held-out loss", "@loss"),
                ("as literature predicts", "@literature"),
            ],
        )
        rank.hbar(y="label", right="ratio", left=0, height=0.7, color="color", source=self.rank_source)
        rank.add_layout(Span(location=0, dimension="height", line_color="black", line_width=1))
        for threshold in (-lab.FLAT_DECADES, lab.FLAT_DECADES):
            rank.add_layout(Span(location=threshold, dimension="height", line_color="gray", line_dash="dotted"))
        self.rank_figure = rank
        self.veit_source = ColumnDataSource(data=dict(k=[], paths=[], gradient=[], per_path=[]))
        veit = figure(
            title="Veit et al.: share of paths vs share of the gradient, by path length",
            x_axis_label="path length k (residual branches taken)",
            y_axis_label="share",
            width=640,
            height=360,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
        )
        veit.vbar(
            x="k",
            top="paths",
            width=0.8,
            source=self.veit_source,
            color="#56B4E9",
            alpha=0.7,
            legend_label="paths: Binomial(n, 1/2)",
        )
        veit.line(
            "k",
            "gradient",
            source=self.veit_source,
            color="#D55E00",
            line_width=2.5,
            legend_label="measured gradient ‖G_k‖ / Σ‖G_j‖",
        )
        veit.scatter("k", "gradient", source=self.veit_source, color="#D55E00", size=6)
        veit.add_tools(
            HoverTool(
                tooltips=[
                    ("length", "@k"),
                    ("share of paths", "@paths{0.0000}"),
                    ("share of gradient", "@gradient{0.0000}"),
                    ("per path", "@per_path{0.00e}"),
                ]
            )
        )
        veit.legend.location = "top_right"
        self.veit_figure = veit
        self.table_source = ColumnDataSource(data={k: [] for k in TABLE_KEYS})
        html_cell = HTMLTemplateFormatter(template="<%= value %>")
        columns = [
            TableColumn(field="rank", title="#", width=28, formatter=NumberFormatter(format="0")),
            TableColumn(field="label_html", title="remedy", width=190, formatter=html_cell),
            TableColumn(field="group", title="group", width=95),
            TableColumn(field="final_loss", title="held-out loss", width=80),
            TableColumn(field="accuracy", title="accuracy", width=65),
            TableColumn(field="grad_change", title="input-layer gradient", width=110),
            TableColumn(field="direction", title="direction", width=65),
            TableColumn(field="literature_html", title="as literature predicts?", width=330, formatter=html_cell),
            TableColumn(field="wall_time", title="time", width=55),
        ]
        self.table = DataTable(
            source=self.table_source,
            columns=columns,
            width=1040,
            height=TABLE_HEADER_PX + TABLE_ROW_PX,
            index_position=None,
            sortable=False,
            reorderable=False,
            row_height=TABLE_ROW_PX,
        )
        self.verdicts = pn.pane.HTML("", margin=(0, 10), width=1040)
        self.progress = pn.indicators.Progress(value=0, max=1, width=300, bar_color="primary")
        self.progress_text = pn.pane.Markdown("", margin=(0, 5))

    # ------------------------------------------------------------------------------------------------ lab runs
    def _on_lab_change(self, *events):
        """A lab setting changed: cancel the running lab and (debounced when served) start a new one."""
        self._runner.cancel()
        self._running = False
        if not self.model.auto_run:
            # the figures still show the previous settings' results: say so rather than "Measured n/n"
            self.progress_text.object = (
                "Settings changed: press **Run lab** to measure them (the figures show the previous settings)."
            )
            return
        if self._doc is None or self._all_cached():
            self.run()  # nothing to measure (or no server to debounce in): draw the cached results at once
            return
        self.progress_text.object = "Settings changed: the lab restarts in a moment…"
        self.call_later("lab", self.run, DEBOUNCE_MS)

    def _all_cached(self) -> bool:
        """Are the current settings' baseline and remedies all in the process's cache (a rerun draws at once)?"""
        try:
            config = self.model.config()
        except ConfigError:
            return False
        return all(CACHE.get(config, n) is not None for n in [BASELINE] + self.model.selected())

    def _on_auto_run(self, *events):
        if self.model.auto_run:
            if not self._complete():
                self.run()
        else:
            self._runner.cancel()
            self._running = False
            self._idle_text()

    def _idle_text(self):
        self.progress_text.object = (
            "Automatic runs are off: press **Run lab** to measure the current settings."
            if not self._complete()
            else self._done_text()
        )

    def run(self, _event=None) -> None:
        """Measure the current settings: cached results are drawn at once, the rest stream in from the worker."""
        t0 = time.perf_counter()
        self._runner.cancel()
        try:
            config = self.model.config()
        except ConfigError as exc:
            self.notices.set("setting", f"Invalid setting: {exc}")
            return
        self.notices.clear("setting", "training")
        self._run_id += 1
        run_id = self._run_id
        self._config = config
        self._expected = [BASELINE] + self.model.selected()
        self._error = None
        self._run_started = time.perf_counter()
        self.timings = {}
        baseline = CACHE.get(config, BASELINE)
        self._results = (
            {} if baseline is None else {n: r for n in self._expected if (r := CACHE.get(config, n)) is not None}
        )
        missing = [n for n in self._expected if n not in self._results]
        self.progress.max = len(self._expected)
        self._guard(self._draw)
        if missing:
            self._running = True
            self.progress_text.object = self._running_text()
            self._runner.start(lambda: ((run_id, r) for r in lab_results(config, missing)))
        else:
            self._running = False
            self.timings["first_result_s"] = self.timings["last_result_s"] = time.perf_counter() - t0
        self.timings["start_s"] = time.perf_counter() - t0

    def _on_result(self, item):
        run_id, result = item
        if run_id != self._run_id or result.name not in self._expected:
            return  # a result of a superseded run
        self._results[result.name] = result
        elapsed = time.perf_counter() - self._run_started
        self.timings.setdefault("first_result_s", elapsed)
        if self._complete():
            self.timings["last_result_s"] = elapsed
            self._running = False
        self._guard(self._draw)

    def _on_error(self, exc: Exception):
        self._error = exc
        self._running = False
        self.notices.set("training", f"Training stopped (remedies lab): {exc}")
        self.progress_text.object = "The lab run stopped (see the notice above)."

    def _complete(self) -> bool:
        return bool(self._expected) and all(n in self._results for n in self._expected)

    def _running_text(self) -> str:
        done, total = len(self._results), len(self._expected)
        waiting = [_ENTRY[n].label for n in self._expected if n not in self._results]
        slow = [n for n in self._expected if n in SLOW and n not in self._results]
        hint = " (pre-training, Rprop and the evolution strategy take longest)" if slow else ""
        return f"Measured **{done}/{total}**; now: {waiting[0] if waiting else '—'}{hint}…"

    def _done_text(self) -> str:
        c = self._config
        total = sum(r.wall_time_s for r in self._results.values())
        return (
            f"Measured **{len(self._results)}/{len(self._expected)}** at depth {c.depth}, width {c.width}, "
            f"{c.steps} steps (compute time {total:.1f} s)."
        )

    # ------------------------------------------------------------------------------------------------ drawing
    def results(self) -> list:
        """The results measured so far for the current settings, in the lab's order (baseline first)."""
        return [self._results[n] for n in self._expected if n in self._results]

    def ranked(self) -> list:
        return lab.rank(self.results())

    def _draw(self):
        # this session's own document, never Panel's lookup (see document_hold: Panel's hold lost these updates)
        with document_hold(self._doc):
            results = self.results()
            feedforward = [r for r in results if _is_feedforward(r)]
            self._draw_profiles(feedforward)
            self.losses.update({r.name: (np.arange(len(r.loss)), r.loss) for r in feedforward})
            ranked = self.ranked()
            self.table_source.data = table_rows(ranked)
            self.table.height = TABLE_HEADER_PX + TABLE_ROW_PX * max(1, len(ranked))
            bars = [r for r in ranked if np.isfinite(r.input_grad_ratio)]
            labels = [r.label for r in bars][::-1]  # best at the top
            self.rank_figure.y_range.factors = labels
            self.rank_source.data = dict(
                label=labels,
                ratio=[float(r.input_grad_ratio) for r in bars][::-1],
                color=[
                    ("#000000" if r.name == BASELINE else "#0072B2" if r.matches_literature else "#D55E00")
                    for r in bars
                ][::-1],
                literature=[("yes" if r.matches_literature else "NO") for r in bars][::-1],
                loss=[_num(r.final_loss, ".4f") for r in bars][::-1],
            )
            self.verdicts.object = self._verdict_text(ranked)
            self.progress.value = len(results)
            self.progress.max = max(1, len(self._expected))
            if self._running and not self._complete():
                self.progress_text.object = self._running_text()
            elif self._complete():
                self.progress_text.object = self._done_text()

    def _draw_profiles(self, feedforward: list) -> None:
        """The gradient profiles of ``feedforward``'s entries, after training and at initialisation: both are sent
        (``BrowserViews``), and the "profile shown" buttons choose between them in the browser."""
        steps = self._config.steps if self._config is not None else self.model.steps
        fig = self.profiles.figure
        trained = {PROFILE_CHOICES[0]: True, PROFILE_CHOICES[1]: False}
        drawn = {
            choice: self.profiles.drawn({r.name: (r.layers, r.grad_trained if t else r.grad_init) for r in feedforward})
            for choice, t in trained.items()
        }
        # one legend for both (the summaries name the series by it): the entries drawn, and the marks if any
        self.profiles.show_legend({r.name for r in feedforward}, any(marks["x"] for _, marks in drawn.values()))

        def view(state: dict) -> dict:
            lines, marks = drawn[state["profile"]]
            when = f"after {steps} training steps" if state["profile"] == PROFILE_CHOICES[0] else "at init"
            title = f"Per-layer gradient ‖∂L/∂h_l‖ {when} (baseline: thick black)"
            data_of = {self.profiles.sources[name]: data for name, data in lines.items()} | {self.profiles.marks: marks}
            out = {f"line-{name}": data for name, data in lines.items()}
            return out | {"marks": marks, "title": title, "summary": paragraph(summary(fig, data_of, title))}

        self.browser.set_tables([Tables.of([(view, ["profile"])], {}, {"profile": PROFILE_CHOICES})])
        self.browser.draw({"profile": self.model.profile})
        self.browser.redrawn()

    def _verdict_text(self, ranked) -> str:
        """HTML (not Markdown: a sentence of the engine naming a file such as ``x.md`` would be linked by Markdown)."""
        if not ranked:
            return ""
        items = []
        for r in ranked:
            link = r.link or _ENTRY[r.name].link
            label = html.escape(r.label)
            name = f'<a href="{html.escape(link)}" target="_top">{label}</a>' if link else label
            notes = f" <i>{_code(html.escape(r.notes))}</i>" if r.notes else ""
            items.append(f"<li><b>{name}</b>: {_code(html.escape(r.verdict))}{notes}</li>")
        return (
            "<p><b>What each entry did</b> (blue bars / <i>yes</i>: as its paper predicts; orange / "
            "<b>NO</b>: not here):</p><ul>" + "".join(items) + "</ul>"
        )

    # ------------------------------------------------------------------------------------------------ Veit view
    def _start_veit(self):
        try:
            config = self.model.config()
        except ConfigError:
            config = lab.LabConfig()
        n = int(self.model.veit_blocks)
        key = (config.width, config.batch_size, config.seed, n)
        if key == self._veit_key:
            return
        self._veit_key = key
        self._veit_done = None
        self._veit_runner.start(lambda: iter([(key, lab.veit_analysis(config, n_blocks=n))]))

    def _on_veit(self, item):
        key, analysis = item
        if key != self._veit_key:
            return

        def work():
            g = np.asarray(analysis.grad_by_length, np.float64)
            total = float(np.nansum(g))
            share = g / total if np.isfinite(total) and total > 0 else np.full_like(g, np.nan)
            dist = np.asarray(analysis.distribution, np.float64)
            self.veit_source.data = dict(
                k=np.asarray(analysis.lengths, np.float64),
                paths=dist,
                gradient=np.where(np.isfinite(share), share, np.nan),
                per_path=np.asarray(analysis.per_path, np.float64),
            )
            n = analysis.n_blocks
            mean_len = float(np.nansum(share * analysis.lengths)) if np.isfinite(share).all() else float("nan")
            self.veit_figure.title.text = (
                f"Veit et al., n = {n} blocks: mean path length {n / 2:g}; mean length "
                f"weighted by gradient {mean_len:.2g}"
            )
            self._veit_done = key

        self._guard(work)

    def _on_veit_error(self, exc: Exception):
        self._veit_done = self._veit_key
        self.notices.set("paths", f"Path-length analysis failed: {exc}")

    # ------------------------------------------------------------------------------------------------ protocol
    def settle(self, timeout_s: float | None = None) -> None:
        """Wait until every result of the current settings and the path-length view have been drawn (outside a
        server; runs the lab first when automatic runs are off). TimeoutError after ``timeout_s``.

        Waits for the runners themselves, not for ``_complete()``: a result counts as measured before its worker
        has drawn it, so polling the results returned while the last draw was half done."""
        if not self._complete() and not self._running and self._error is None:
            self.run()
        super().settle(timeout_s)
        if not (self._complete() or self._error is not None) or self._veit_done != self._veit_key:
            raise TimeoutError(
                f"the remedies lab did not finish ({len(self._results)}/{len(self._expected)} results drawn)"
            )

    def controls(self) -> pn.Column:
        m, w = self.model, pn.widgets
        options = {_ENTRY[n].label: n for n in REMEDY_NAMES}
        run = w.Button(label="Run lab", color="primary", margin=(8, 10))
        self._on_click(run, self.run)
        return pn.Column(
            "### Remedies (against the baseline)",
            w.CheckBoxGroup.from_param(m.param.remedies, options=options, inline=False),
            "### Every net",
            w.IntSlider.from_param(m.param.depth, label="depth (hidden layers)"),
            w.DiscreteSlider.from_param(m.param.width, label="width"),
            w.IntSlider.from_param(m.param.steps, label="training steps"),
            w.DiscreteSlider.from_param(m.param.learning_rate, label="learning rate (SGD)"),
            w.IntInput.from_param(m.param.seed, label="seed"),
            w.Checkbox.from_param(m.param.auto_run, label="run automatically"),
            run,
            self.progress,
            self.progress_text,
            "### Views",
            self.profile_choice,
            *self.browser.hidden(),
            w.IntSlider.from_param(m.param.veit_blocks, label="residual blocks n (Veit)"),
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        header = [preset_bar(self.model, PRESETS), self.notice]
        table = pn.Column("### Ranking (best held-out loss first)", pn.pane.Bokeh(self.table), self.verdicts)
        return page_layout(self.slug, self.controls(), header, self.figures(), [explanation_panel(EXPLANATION), table])

    def figures(self) -> dict:
        return {
            "gradient-profiles": self.profiles.figure,
            "loss-curves": self.losses.figure,
            "ranking": self.rank_figure,
            "veit-path-lengths": self.veit_figure,
        }
