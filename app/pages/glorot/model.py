"""Page "Glorot & Bengio 2010", its model: every control (``GlorotModel``), which controls the server draws and which
the browser draws, the presets (one per figure of the paper) and the explanation.

References:
  Glorot & Bengio (2010), AISTATS, Eq. 1 (standard init), Eq. 16 (normalized init), Figs. 2-9, Table 1.
"""

from __future__ import annotations

import functools

import param

from vgp_core.experiments import glorot2010 as g10

from . import data
from .data import load_result, n_checkpoints

# ----------------------------------------------------------------------------------------------------------------
# Controls


class GlorotModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description.

    The run's choices, the layer's and the checkpoint's bounds and defaults come from the committed files: they are
    filled in by :func:`fit_to_runs` on first use (the first model made, or ``app.pages.glorot.GlorotModel``), so
    that importing the page reads no file."""

    run = param.Selector(
        default=None,
        objects=[],
        doc="Which committed run of the reproduction engine (assets/glorot2010/): the budget is read from the file.",
    )
    activation = param.Selector(
        default="sigmoid",
        objects=list(g10.ACTIVATIONS),
        doc="Activation of the 5 hidden layers: sigmoid, tanh or softsign x/(1+|x|).",
    )
    init = param.Selector(
        default="standard",
        objects={"standard U[±1/√n] (Eq. 1)": "standard", "normalized U[±√6/√(n_in+n_out)] (Eq. 16)": "glorot_uniform"},
        doc="Weight initialization.",
    )
    layer = param.Integer(1, bounds=(1, None), doc="Hidden layer highlighted in every view (1 = input side).")
    checkpoint = param.Integer(
        0,
        bounds=(0, None),
        doc="Checkpoint shown (0 = initialization, last = end of training); the statistics "
        "were measured on 300 probe images at each checkpoint.",
    )
    snapshot = param.Selector(
        default="final",
        objects={"at initialization": "initial", "after training": "final"},
        doc="The engine stores histograms only at initialization and after the last update.",
    )
    grad_kind = param.Selector(
        default="backprop",
        objects={"∂C/∂s (Fig. 7)": "backprop", "∂C/∂W (Fig. 8)": "weight"},
        doc="Which gradients the gradient histogram shows: back-propagated ∂C/∂s or the weight gradients ∂C/∂W.",
    )
    compare = param.Boolean(
        True, doc="Overlay the other initialization (dashed) in the histograms and the variance plots."
    )

    def __init__(self, **params):
        fit_to_runs()
        super().__init__(**params)
        self._fitted_run = None
        self._fit_to_run()

    @param.depends("run", watch=True)
    def _fit_to_run(self):
        """Checkpoint and layer bounds follow the run; the checkpoint keeps its fraction of training."""
        result = load_result(self.run)
        n_new = n_checkpoints(self.run)
        if self._fitted_run is not None and self._fitted_run != self.run:
            n_old = n_checkpoints(self._fitted_run)
            fraction = self.checkpoint / max(1, n_old - 1)
            target = int(round(fraction * (n_new - 1)))
        else:
            target = min(int(self.checkpoint), n_new - 1)
        self._fitted_run = self.run
        self.param.checkpoint.bounds = (0, n_new - 1)
        self.param.layer.bounds = (1, result.config.depth)
        self.param.update(checkpoint=target, layer=min(int(self.layer), result.config.depth))


@functools.cache
def fit_to_runs() -> type[GlorotModel]:
    """``GlorotModel`` with the controls that depend on the committed runs fitted to them: the run's choices and
    default (:func:`data.runs`), the layer (1..deepest run, default the deepest) and the checkpoint (0..last of the
    default run, default the last). Reads the files on the first call only; raises ``RuntimeError`` when no run
    loads."""
    runs, default = data.runs(), data.default_run()
    depth, last = data.max_depth(), n_checkpoints(default) - 1
    p = GlorotModel.param
    p.run.objects = runs
    # as a Selector declared with these objects: None was only the placeholder, and a value is checked on set
    p.run.allow_None, p.run.check_on_set = False, True
    p.layer.bounds = (1, depth)
    p.checkpoint.bounds = (0, last)
    p.run.default, p.layer.default, p.checkpoint.default = default, depth, last
    return GlorotModel


#: URL: ``run`` is applied first, so that the checkpoint is checked against that run's number of checkpoints.
URL_PARAMS = ["run", "activation", "init", "layer", "checkpoint", "snapshot", "grad_kind", "compare"]
#: controls that choose the combination (a data file, an activation, an init): a move asks the server.
SERVER_PARAMS = ["run", "activation", "init"]
#: controls that choose within the shown combination's arrays: a move is drawn in the browser alone.
BROWSER_PARAMS = ["layer", "checkpoint", "snapshot", "grad_kind", "compare"]
#: the download buttons under every figure (``ExportDownload``'s css class): before one is pressed the server is
#: sent the browser's state, so that it exports what the browser shows.
DOWNLOAD_SELECTOR = ".vgp-download"

PRESETS = {
    "Fig. 2: sigmoid, top layer saturates": dict(
        activation="sigmoid", init="standard", layer=5, snapshot="final", grad_kind="backprop"
    ),
    "Fig. 3–4: tanh": dict(activation="tanh", init="standard", layer=1, snapshot="final", grad_kind="backprop"),
    "Fig. 3–4: softsign": dict(activation="softsign", init="standard", layer=5, snapshot="final", grad_kind="backprop"),
    "Fig. 6–7: histograms, standard vs normalized": dict(
        activation="tanh", init="standard", layer=1, snapshot="initial", grad_kind="backprop", compare=True
    ),
    "Fig. 8–9: gradient variance": dict(
        activation="tanh", init="standard", layer=1, snapshot="initial", grad_kind="weight", compare=True
    ),
    "Table 1: softsign, normalized": dict(
        activation="softsign", init="glorot_uniform", layer=5, snapshot="final", grad_kind="backprop"
    ),
}

EXPLANATION = (
    (
        "md",
        """### What the paper found, and what you see
Glorot & Bengio (2010) trained nets of 5 hidden layers of 1000 units on Shapeset-3x2 with plain SGD and watched
each layer. With layers s^i = z^i W^i + b^i, z^{i+1} = f(s^i), in the linear regime of f the variances of the
activations and of the back-propagated gradients are""",
    ),
    (
        "tex",
        r"\mathrm{Var}[z^i] = \mathrm{Var}[x]\prod_{i'=0}^{i-1} n_{i'}\,\mathrm{Var}[W^{i'}],\qquad "
        r"\mathrm{Var}\Big[\frac{\partial C}{\partial s^i}\Big] = \mathrm{Var}\Big[\frac{\partial C}{\partial s^d}"
        r"\Big]\prod_{i'=i}^{d} n_{i'+1}\,\mathrm{Var}[W^{i'}],",
    ),
    (
        "md",
        """so both shrink or grow geometrically unless n·Var[W] = 1 in both directions. The **standard** init
(Eq. 1) has n·Var[W] = 1/3, so the back-propagated variance shrinks about 3× per layer going down (Fig. 7) —
while the weight-gradient variance is the *same for every layer* (their Eq. 14), which is why the per-layer weight
gradients (Fig. 8–9) look level. Asking for n_i Var[W^i] = 1 forward and n_{i+1} Var[W^i] = 1 backward, and
compromising between the two, gives the **normalized** init (Eq. 16):""",
    ),
    (
        "tex",
        r"\mathrm{Var}[W^i] = \frac{2}{n_i + n_{i+1}},\qquad "
        r"W \sim U\Big[-\frac{\sqrt 6}{\sqrt{n_i + n_{i+1}}},\ \frac{\sqrt 6}{\sqrt{n_i + n_{i+1}}}\Big].",
    ),
    (
        "md",
        """It keeps the average singular value of each layer's Jacobian J^i = ∂z^{i+1}/∂z^i near 0.8
(standard: 0.5; Sec. 4.2.1, tanh). **Sigmoid:** the top hidden layer is driven to 0, where the sigmoid saturates,
almost at once (Fig. 2; the paper's explanation: early on the softmax learns more from its biases than from the
still uninformative top layer, whose outputs are best pushed to 0); a 4-layer net escapes around epoch 100, a
5-layer one never does. **Tanh** saturates layer after layer from the bottom, **softsign** gathers around its
knees ±(0.6–0.8) (Fig. 3–4).

**What is plotted.** Our engine's committed runs (`assets/glorot2010/`): statistics on 300 fixed probe images at
every checkpoint, histograms and Jacobians only at initialization and after the last update. The H100 file is
the same protocol with a larger budget, run once on a lent GPU (see `assets/glorot2010/README.md`). Solid lines: the
chosen initialization; dashed: the other one (toggle "compare"). **Magenta** crosses: a value that is not finite
(a diverged run); **black**: a variance that underflowed to 0.""",
    ),
)
