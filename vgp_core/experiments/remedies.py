"""The remedies lab: one hard baseline and every remedy of our sources, each measured the same way.

The remedies are those named in the Wikipedia article "Vanishing gradient problem" (section "Solutions"), in
Ahirwar 2019 (section "Vanishing gradients") and in Glorot & Bengio 2010 (softsign, normalized initialization);
``Remedy.reference`` cites each remedy's own paper.

Baseline (Glorot & Bengio 2010): a deep MLP of ``LabConfig.depth`` logistic-sigmoid hidden layers
with the "standard" initialization U[±1/√n_in] (their Eq. 1), trained with plain SGD on the seeded Gaussian-mixture
task of :mod:`vgp_core.data`. Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) gives it
chi_1 = σ_w² E[σ'(√q* z)²] ≈ 0.02 per layer (σ_w² = 1/3, σ' ≤ 1/4), so the gradient reaching the input layer is
about 10^-15 of the top layer's at depth 20.

Every remedy changes one thing of that baseline (:data:`REMEDIES`) and is measured the same way:

* the per-layer back-propagated gradient ‖∂L/∂h_l‖ on a fixed held-out probe batch at initialization
  (``grad_init``) and after ``steps`` updates (``grad_trained``) (:func:`vgp_core.mlp.params_profile`);
* the training loss per step, the held-out loss and accuracy after training, and the wall time;
* ``input_grad_ratio`` = log10(‖∂L/∂h_1‖ of the remedy / ‖∂L/∂h_1‖ of the baseline) at initialization, its
  ``direction`` ("raise" / "lower" / "flat", threshold :data:`FLAT_DECADES`), and whether that agrees with the
  literature's prediction ``Remedy.expected``:

  - "raise": the input-layer gradient goes up (direction "raise");
  - "level": it goes up *and* the profile is level: |log10(‖∂L/∂h_1‖/‖∂L/∂h_L‖)| ≤ :data:`LEVEL_DECADES`;
  - "none": the remedy does not cure the vanishing gradient: the profile still falls by more than
    LEVEL_DECADES from the top to the input layer (Kumar's initialization on the sigmoid net: by mean-field
    theory, :func:`vgp_core.theory.chi_1`, σ_w² = 12.96 leaves chi_1 ≈ 0.36 < 1; gradient clipping and Rprop,
    which act on the update, not on ∂L/∂h);
  - "n/a": the gradient-free search (it never uses a gradient) and the LSTM (a recurrent net: a link to the
    Recurrent page, with the LSTM's and a vanilla RNN's measured Jacobian norms over T = depth steps).

Most remedies are a change of :class:`vgp_core.mlp.MLPConfig` or of the optimizer, so they run on the deep-net
engine's one compiled training program (traced depth, activation, initializer, residual and batch-norm flags;
one compilation per optimizer). Pre-training (:mod:`vgp_core.pretraining`) and the evolution strategy
(:mod:`vgp_core.evolution`) have their own module-level jitted programs; the Veit et al. (2016) path-length
analysis (:func:`veit_gradient_by_path_length`) has one too.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import bounds, initializers, mlp, theory
from ..errors import ConfigError, check_choice, check_int

#: |input_grad_ratio| below this many decades (a factor 10^0.5 ≈ 3.2) counts as "flat". The ratio compares a remedy
#: with the baseline on the same seed (same random draws, same probe batch): remedies that act only on the update
#: (clipping, Rprop) give exactly 0, while every remedy that changes the network moves it by ≥ 4.5 decades at depth
#: 20 (measured over seeds 0-3: smallest glorot/orthogonal 4.6-4.8; tests/test_remedies.py checks it), so the
#: threshold sits far from both. (The baseline's input-layer gradient itself varies by ~0.7 decades from seed to
#: seed, which is why the ratio is never taken across seeds.)
FLAT_DECADES = 0.5
#: A profile is "level" when the input layer's gradient is within this many decades (10×) of the last layer's; the
#: baseline's falls ~16 decades over 20 layers, a remedy that merely slows the decay still falls several.
LEVEL_DECADES = 1.0
#: Largest depth of the lab (the deep-net engine's first capacity bucket: one compiled program for all depths).
MAX_LAB_DEPTH = 64
#: Baseline network (standard init U[±1/√n], Glorot & Bengio 2010 Eq. 1; logistic sigmoid).
BASELINE_ACTIVATION = "sigmoid"
BASELINE_INIT = "standard"
#: Input dimension and classes of the synthetic task (as on the Deep network page).
INPUT_DIM = 64
N_CLASSES = 10
#: Training steps per compiled chunk (the lab's ``steps`` must be a multiple of it).
CHUNK = 10

GROUPS = (
    "baseline",
    "activation",
    "normalization",
    "architecture",
    "initialization",
    "optimizer",
    "pre-training",
    "gradient-free",
    "recurrent",
)
EXPECTED = ("raise", "level", "none", "n/a")


@dataclasses.dataclass(frozen=True)
class Remedy:
    """One entry of the lab: what it changes and what the literature predicts for the input-layer gradient."""

    name: str  # key
    label: str  # table label
    group: str  # one of GROUPS
    expected: str  # one of EXPECTED (see the module docstring)
    reference: str  # citation
    description: str  # one plain sentence
    kind: str = "mlp"  # how it runs: "mlp" (a config/optimizer change), "pretraining", "evolution", "lstm"
    changes: tuple = ()  # (field, value) pairs applied to the baseline's MLPConfig
    optimizer: str = "sgd"  # optax optimizer of the training run (vgp_core.mlp.OPTIMIZERS)
    link: str = ""  # page the entry links to (the LSTM: "?page=recurrent")


REMEDIES: tuple[Remedy, ...] = (
    Remedy(
        "baseline",
        "baseline: sigmoid, standard init",
        "baseline",
        "n/a",
        "Glorot & Bengio 2010, Eq. 1 and Sec. 4.2",
        "Deep logistic-sigmoid MLP with weights U[±1/√n_in], trained with plain SGD: the vanishing-gradient case.",
    ),
    Remedy(
        "relu",
        "ReLU",
        "activation",
        "raise",
        "Glorot, Bordes & Bengio 2011; Nair & Hinton 2010",
        "Replace the sigmoid by max(0, x), whose derivative is 1 for every active unit.",
        changes=(("activation", "relu"),),
    ),
    Remedy(
        "relu_he",
        "ReLU + He init",
        "activation",
        "level",
        "He et al. 2015, Eq. 10; mean field: chi_1 = σ_w²/2",
        "Replace the sigmoid by ReLU and draw weights N(0, 2/n_in), the variance at which ReLU's chi_1 = 1.",
        changes=(("activation", "relu"), ("init", "he_normal")),
    ),
    Remedy(
        "leaky_relu",
        "LeakyReLU (0.01)",
        "activation",
        "raise",
        "Maas, Hannun & Ng 2013",
        "Replace the sigmoid by max(0.01x, x), which never saturates completely.",
        changes=(("activation", "leaky_relu"),),
    ),
    Remedy(
        "prelu",
        "PReLU (learned slope)",
        "activation",
        "raise",
        "He et al. 2015, Eq. 1",
        "Replace the sigmoid by max(ax, x) with the negative slope a learned (0.25 at the start).",
        changes=(("activation", "prelu"),),
    ),
    Remedy(
        "softsign",
        "softsign",
        "activation",
        "raise",
        "Glorot & Bengio 2010, Sec. 3; Bergstra et al. 2009",
        "Replace the sigmoid by x/(1+|x|), which is zero-centred and saturates polynomially, not exponentially.",
        changes=(("activation", "softsign"),),
    ),
    Remedy(
        "batchnorm",
        "batch normalization",
        "normalization",
        "raise",
        "Ioffe & Szegedy 2015, Alg. 1",
        "Normalize every hidden pre-activation over the batch (learned scale and shift), keeping sigmoid units "
        "out of saturation.",
        changes=(("batchnorm", True),),
    ),
    Remedy(
        "residual",
        "residual connections",
        "architecture",
        "level",
        "He et al. 2016, 'Identity mappings', Eq. 5; Veit, Wilber & Belongie 2016",
        "Add identity shortcuts h_l = h_(l-1) + σ(s_l): the gradient reaching layer l contains ∂L/∂h_L itself.",
        changes=(("residual", True),),
    ),
    Remedy(
        "glorot",
        "Glorot/Xavier init",
        "initialization",
        "raise",
        "Glorot & Bengio 2010, Eq. 16",
        "Draw weights with Var = 2/(n_in+n_out) (normalized init) instead of 1/(3 n_in).",
        changes=(("init", "glorot_uniform"),),
    ),
    Remedy(
        "he",
        "He/Kaiming init",
        "initialization",
        "raise",
        "He et al. 2015, Eq. 10",
        "Draw weights N(0, 2/n_in), six times the baseline's variance.",
        changes=(("init", "he_normal"),),
    ),
    Remedy(
        "orthogonal",
        "orthogonal init",
        "initialization",
        "raise",
        "Saxe, McClelland & Ganguli 2014",
        "Use random orthogonal weight matrices, whose singular values are all 1.",
        changes=(("init", "orthogonal"),),
    ),
    Remedy(
        "kumar",
        "Kumar init (3.6/√N)",
        "initialization",
        "none",
        "Kumar 2017; mean-field chi_1 (Poole et al. 2016)",
        "Draw weights N(0, (3.6/√N)²), proposed for the sigmoid; mean-field theory says chi_1 ≈ 0.36 < 1 still "
        "vanishes.",
        changes=(("init", "kumar"),),
    ),
    Remedy(
        "yilmaz_poli",
        "Yilmaz & Poli init (negative mean)",
        "initialization",
        "raise",
        "Yilmaz & Poli 2022",
        "Draw weights N(max(-1, -8/N), 0.1²): a negative mean that keeps sigmoid units out of saturation.",
        changes=(("init", "yilmaz_poli"),),
    ),
    Remedy(
        "clipping",
        "gradient clipping",
        "optimizer",
        "none",
        "Pascanu, Mikolov & Bengio 2013, Alg. 1",
        "Rescale the gradient to a maximum global norm; a cure for exploding, not vanishing, gradients.",
    ),
    Remedy(
        "rprop",
        "Rprop (optax)",
        "optimizer",
        "none",
        "Riedmiller & Braun 1993; Behnke 2003",
        "Step each weight by the sign of its gradient only, so a tiny gradient still moves the weight "
        "(the gradient itself is unchanged).",
        optimizer="rprop",
    ),
    Remedy(
        "pretraining",
        "RBM pre-training + fine-tuning",
        "pre-training",
        "raise",
        "Hinton, Osindero & Teh 2006; Hinton 2002 (CD); Schmidhuber 1992",
        "Train each layer as a restricted Boltzmann machine on the layer below (contrastive divergence, CD-1), "
        "greedily from the input up, then fine-tune the whole net with SGD.",
        kind="pretraining",
    ),
    Remedy(
        "evolution",
        "evolution strategy (no gradients)",
        "gradient-free",
        "n/a",
        "Salimans et al. 2017 (OpenAI-ES, antithetic sampling); Wikipedia, 'Vanishing gradient problem', 'Other'",
        "Search the weights with an evolution strategy that only evaluates the loss, so no gradient can vanish.",
        kind="evolution",
    ),
    Remedy(
        "lstm",
        "LSTM (recurrent case)",
        "recurrent",
        "n/a",
        "Hochreiter & Schmidhuber 1997",
        "In recurrent nets the constant error carousel of the LSTM keeps the error flowing back through time.",
        kind="lstm",
        link="?page=recurrent",
    ),
)
_BY_NAME = {r.name: r for r in REMEDIES}


def names() -> tuple[str, ...]:
    """The names of all lab entries, baseline first.

    Args:
      None.

    Returns:
      A tuple of names.

    References:
      Wikipedia, "Vanishing gradient problem", section "Solutions" (the remedies the lab measures).
    """
    return tuple(_BY_NAME)


def remedy(name: str) -> Remedy:
    """The lab entry called ``name``.

    Args:
      name: one of :func:`names`.

    Returns:
      Its :class:`Remedy`. Raises ``ConfigError`` listing the valid names otherwise.

    References:
      Wikipedia, "Vanishing gradient problem", section "Solutions".
    """
    return _BY_NAME[check_choice("remedy", name, _BY_NAME)]


# ----------------------------------------------------------------------------------------------------------------
# Configuration and results


@dataclasses.dataclass(frozen=True)
class LabConfig:
    """The lab's shared settings. Validated on construction (ConfigError).

    Defaults: the hard baseline at depth 20 (as in the issue) with width 64 and batch 64, so that the whole default
    lab (18 entries, 200 steps each) runs in seconds on two CPU cores once compiled (bench/bench_remedies.py); the
    Deep network page uses width 128, which makes every step about 4× dearer and changes no conclusion.

    ``steps`` must be a multiple of :data:`CHUNK`. ``learning_rate``: SGD's step for every gradient run;
    ``rprop_step``: Rprop's initial per-weight step size (Riedmiller & Braun 1993 start at 0.1 on small nets; the
    weights here are ~0.07, so a step of 0.1 would overshoot at once); ``clip_norm``: the global-norm threshold of
    the clipping remedy (Pascanu et al. 2013 clip at 1). Evolution strategy (Salimans et al. 2017): ``es_pairs``
    antithetic pairs per generation, noise scale ``es_sigma``, Adam step ``es_learning_rate`` and ``es_batch_size``
    examples per loss evaluation (a generation is 2·es_pairs + 1 forward passes: at the defaults 17 passes over 32
    examples, about the work of 3 SGD steps at batch 64). Pre-training
    (Hinton et al. 2006): ``pretrain_updates`` CD-1 updates per layer at ``pretrain_learning_rate``.
    """

    # Bounds declared once (vgp_core.bounds): ``soft`` is the range the Remedies page's controls offer.
    depth: int = bounds.integer(20, 2, MAX_LAB_DEPTH)
    width: int = bounds.integer(64, 8, 512)
    steps: int = bounds.integer(200, CHUNK, 10_000, soft=(CHUNK, 1000))
    batch_size: int = bounds.integer(64, 8, 1024)
    learning_rate: float = bounds.real(0.1, 1e-6, 10.0)
    seed: int = bounds.integer(0, 0, 2**31 - 1, soft=(0, 9999))
    clip_norm: float = bounds.real(1.0, 1e-6, 1e6)
    rprop_step: float = bounds.real(1e-3, 1e-8, 1.0)
    es_pairs: int = bounds.integer(8, 1, 512)
    es_sigma: float = bounds.real(0.02, 1e-6, 10.0)
    es_learning_rate: float = bounds.real(1e-3, 1e-6, 10.0)
    es_batch_size: int = bounds.integer(32, 1, 1024)
    pretrain_updates: int = bounds.integer(100, 1, 100_000)
    pretrain_learning_rate: float = bounds.real(0.05, 1e-6, 10.0)

    def __post_init__(self):
        bounds.validate(self)
        if self.steps % CHUNK:
            raise ConfigError(f"steps must be a multiple of {CHUNK}, got {self.steps}")

    def replace(self, **changes) -> LabConfig:
        return dataclasses.replace(self, **changes)

    def mlp_config(self, **changes) -> mlp.MLPConfig:
        """The baseline network as an MLPConfig, with ``changes`` applied."""
        base = dict(
            depth=self.depth,
            width=self.width,
            activation=BASELINE_ACTIVATION,
            init=BASELINE_INIT,
            batch_size=self.batch_size,
            seed=self.seed,
            input_dim=INPUT_DIM,
            n_classes=N_CLASSES,
        )
        base.update(changes)
        return mlp.MLPConfig(**base)


@dataclasses.dataclass(frozen=True)
class RecurrentComparison:
    """The LSTM entry's measurement (vgp_core.rnn.jacobian_norms): log10 ‖∂z_T/∂z_(T-k)‖ for k = 0..T-1 of an LSTM
    (cell state) and of a vanilla sigmoid RNN with the same hidden size, spectral radius 1 and T = lab depth."""

    lag: np.ndarray
    log10_lstm: np.ndarray
    log10_vanilla: np.ndarray
    hidden_size: int
    spectral_radius: float


@dataclasses.dataclass
class RemedyResult:
    """One measured lab entry (see the module docstring). Per-layer arrays have shape (depth,), index 0 = layer 1.

    ``loss`` has shape (steps,): the training loss of step k's batch before its update; for the evolution strategy,
    entry k is the loss of the search distribution's mean on generation k's batch (one generation per step, each
    costing 2·es_pairs forward passes). The LSTM entry has NaN arrays (it is not a feed-forward run: see
    ``recurrent`` and ``notes``). ``chi_1`` is the mean-field per-layer factor where theory applies (zero-mean
    i.i.d. weights, no batch norm or residuals), else NaN.
    """

    name: str
    label: str
    layers: np.ndarray
    grad_init: np.ndarray
    grad_trained: np.ndarray
    loss: np.ndarray
    final_loss: float
    final_accuracy: float
    input_grad_ratio: float
    direction: str
    matches_literature: bool
    verdict: str
    wall_time_s: float
    notes: str = ""
    group: str = ""
    expected: str = ""
    trained_input_grad_ratio: float = float("nan")  # log10 of grad_trained[0] / baseline's grad_trained[0]
    spread: float = float("nan")  # log10(grad_init[0] / grad_init[-1]): decades from the last to the first layer
    chi_1: float = float("nan")
    link: str = ""
    recurrent: RecurrentComparison | None = None


# ----------------------------------------------------------------------------------------------------------------
# Measuring one remedy


def _chi_1(cfg: mlp.MLPConfig) -> float:
    """Mean-field chi_1 of ``cfg``'s hidden layers where theory applies (zero-mean i.i.d. weights, no batch norm,
    no residuals), else NaN."""
    if cfg.batchnorm or cfg.residual or not initializers.get(cfg.init).mean_field:
        return float("nan")
    sw2 = initializers.sigma_w2(cfg.init, cfg.width, cfg.width, cfg.gain)
    return float(theory.chi_1(cfg.activation, sw2, cfg.bias_std**2))


def _log10_ratio(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(np.float64(a)) - np.log10(np.float64(b)))


def _direction(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "raise" if ratio == np.inf else ("lower" if ratio == -np.inf else "flat")
    if ratio >= FLAT_DECADES:
        return "raise"
    if ratio <= -FLAT_DECADES:
        return "lower"
    return "flat"


def _judge(r: Remedy, ratio: float, spread: float) -> bool:
    """Does the measured change agree with ``r.expected``? (Rules in the module docstring.)"""
    direction = _direction(ratio)
    level = bool(np.isfinite(spread) and abs(spread) <= LEVEL_DECADES)
    if r.expected == "raise":
        return direction == "raise"
    if r.expected == "level":
        return direction == "raise" and level
    if r.expected == "none":
        return bool(spread < -LEVEL_DECADES)  # still vanishing (NaN compares False)
    raise AssertionError(r.expected)


def _pow(x: float) -> str:
    if np.isfinite(x):
        return f"10^{x:+.1f}"
    return "∞ (float32 overflow)" if x > 0 else "0 (float32 underflow)" if x < 0 else "undefined (0/0)"


def _verdict(r: Remedy, ratio: float, spread: float, chi: float, matches: bool) -> str:
    direction = _direction(ratio)
    moved = {
        "raise": f"raises the input-layer gradient {_pow(ratio)}×",
        "lower": f"lowers the input-layer gradient {_pow(ratio)}×",
        "flat": f"leaves the input-layer gradient where it was ({_pow(ratio)}×)",
    }[direction]
    if np.isfinite(spread) and abs(spread) <= LEVEL_DECADES:
        profile = f"the profile is level (first/last layer {_pow(spread)})"
    else:
        profile = f"the gradient still changes {_pow(spread)}× from the last to the first layer"
    chi_txt = f", chi_1 = {chi:.2g}" if np.isfinite(chi) else ""
    if r.expected == "none":
        if matches:
            cure = "does NOT fix the vanishing gradient here"
            why = {
                "kumar": f" (mean-field chi_1 = {chi:.2f} < 1), as mean-field theory predicts",
                "clipping": " (clipping only shortens long update steps; it cannot lengthen short ones), "
                "as Pascanu et al. 2013 say",
                "rprop": " (it acts on the update, not on the gradient: each weight still moves by its step "
                "size), as predicted",
            }.get(r.name, ", as predicted")
            return f"{moved[0].upper() + moved[1:]}, but {cure}{why}: {profile}."
        return (
            f"{moved[0].upper() + moved[1:]} and {profile}{chi_txt}: NOT what the literature predicts "
            f"(expected no cure)."
        )
    want = {"raise": "a higher input-layer gradient", "level": "a level profile"}[r.expected]
    if matches:
        return f"{moved[0].upper() + moved[1:]}; {profile}{chi_txt}. As predicted ({want})."
    return f"{moved[0].upper() + moved[1:]}; {profile}{chi_txt}. NOT as predicted ({want}) in this setting."


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _baseline_input_grad(config: LabConfig) -> float:
    cfg = config.mlp_config()
    return float(mlp.params_profile(cfg, mlp.init_params(cfg)).backprop_norm[0])


def _mlp_run(r: Remedy, config: LabConfig, cfg: mlp.MLPConfig, params0=None):
    """(profile at the start, trace, profile after training, held-out (loss, accuracy)) of one gradient run."""
    lr = config.rprop_step if r.optimizer == "rprop" else config.learning_rate
    clip = config.clip_norm if r.name == "clipping" else None
    if params0 is None:
        params0 = mlp.init_params(cfg)
    prof0 = mlp.params_profile(cfg, params0)
    trace, params = mlp.train_with_params(
        cfg,
        config.steps,
        optimizer=r.optimizer,
        learning_rate=lr,
        clip_norm=clip,
        chunk=CHUNK,
        params=params0,
        jacobians=False,
    )
    prof1 = mlp.params_profile(cfg, params)
    return prof0, trace, prof1, mlp.probe_accuracy(cfg, params)


def _recurrent_comparison(config: LabConfig) -> RecurrentComparison:
    from .. import rnn

    base = rnn.RNNConfig(
        hidden_size=LSTM_HIDDEN, T=config.depth, spectral_radius=1.0, activation="sigmoid", seed=config.seed
    )
    vanilla = rnn.jacobian_norms(base.replace(cell="vanilla"))
    lstm = rnn.jacobian_norms(base.replace(cell="lstm"))
    return RecurrentComparison(vanilla.lag, lstm.log10_norm, vanilla.log10_norm, LSTM_HIDDEN, 1.0)


#: Hidden size of the LSTM entry's recurrent nets (as on the Recurrent page's default).
LSTM_HIDDEN = 32


def run_remedy(name: str, config: LabConfig = LabConfig(), baseline: RemedyResult | None = None) -> RemedyResult:
    """Measure one lab entry on ``config`` (see the module docstring for what is measured and how it is judged).

    Args:
      name: the entry.
      config: the lab's shared settings.
      baseline: the baseline's result on the same config, for the ratios; without it the baseline's input-layer
        gradient at initialization is measured here (cheap) and ``trained_input_grad_ratio`` is NaN.

    Returns:
      A :class:`RemedyResult`.

    References:
      The entry's own source (``remedy(name).source``), e.g. Pascanu et al. (2013), arXiv:1211.5063, Algorithm 1 for
      clipping; He et al. (2016), "Deep residual learning for image recognition", CVPR, Eq. 1 for residuals.
    """
    r = remedy(name)
    if not isinstance(config, LabConfig):
        raise ConfigError(f"config must be a LabConfig, got {type(config).__name__}")
    t0 = time.perf_counter()
    depth = config.depth
    layers = np.arange(1, depth + 1)
    cfg = config.mlp_config(**dict(r.changes))
    chi = _chi_1(cfg) if r.kind == "mlp" else float("nan")  # pre-trained / evolved weights are not i.i.d.

    if r.kind == "lstm":
        rec = _recurrent_comparison(config)
        gap = float(rec.log10_lstm[-1] - rec.log10_vanilla[-1])
        matches = bool(gap >= FLAT_DECADES)
        verdict = (
            f"Recurrent case (see the Recurrent page): over T = {depth} steps the LSTM's cell-state Jacobian "
            f"norm is {_pow(float(rec.log10_lstm[-1]))} vs {_pow(float(rec.log10_vanilla[-1]))} for a vanilla "
            f"sigmoid RNN (spectral radius 1), {_pow(gap)}× more gradient"
            + (", as Hochreiter & Schmidhuber predict." if matches else ": NOT the predicted advantage here.")
        )
        return RemedyResult(
            r.name,
            r.label,
            layers,
            _nan(depth),
            _nan(depth),
            _nan(config.steps),
            float("nan"),
            float("nan"),
            float("nan"),
            "flat",
            matches,
            verdict,
            time.perf_counter() - t0,
            notes="Not a feed-forward run: the per-layer arrays are NaN; the measurement is in `recurrent` "
            "(vgp_core.rnn.jacobian_norms). Train the LSTM on memory tasks on the Recurrent page.",
            group=r.group,
            expected=r.expected,
            link=r.link,
            recurrent=rec,
        )

    notes = ""
    if r.kind == "mlp":
        prof0, trace, prof1, (loss, acc) = _mlp_run(r, config, cfg)
        loss_curve = trace.loss
        if r.name == "clipping":
            notes = f"clipped on {int(np.sum(trace.clipped))} of {config.steps} steps (threshold {config.clip_norm:g})"
    elif r.kind == "pretraining":
        from .. import pretraining

        pcfg = pretraining.PretrainConfig(
            updates=config.pretrain_updates, learning_rate=config.pretrain_learning_rate, seed=config.seed
        )
        params0, ptrace = pretraining.pretrain(cfg, pcfg)
        prof0, trace, prof1, (loss, acc) = _mlp_run(r, config, cfg, params0)
        loss_curve = trace.loss
        notes = (
            f"{depth} RBMs × {config.pretrain_updates} CD-1 updates; reconstruction error of layer 1 "
            f"{ptrace.error_before[0]:.3g} → {ptrace.error_after[0]:.3g}, of layer {depth} "
            f"{ptrace.error_before[-1]:.3g} → {ptrace.error_after[-1]:.3g}; then {config.steps} SGD steps."
        )
    elif r.kind == "evolution":
        from .. import evolution

        ecfg = evolution.ESConfig(
            generations=config.steps,
            pairs=config.es_pairs,
            sigma=config.es_sigma,
            learning_rate=config.es_learning_rate,
            seed=config.seed,
            batch_size=config.es_batch_size,
        )
        params0 = mlp.init_params(cfg)
        prof0 = mlp.params_profile(cfg, params0)
        etrace, params = evolution.evolve(cfg, ecfg, params0)
        prof1 = mlp.params_profile(cfg, params)
        loss, acc = mlp.probe_accuracy(cfg, params)
        loss_curve = etrace.loss
        notes = (
            f"{config.steps} generations × {2 * config.es_pairs} loss evaluations (forward passes only); "
            "the gradient columns are measured on the weights it found but never used by it."
        )
    else:  # pragma: no cover - registry kinds are fixed above
        raise AssertionError(r.kind)

    g0, g1 = np.asarray(prof0.backprop_norm, np.float64), np.asarray(prof1.backprop_norm, np.float64)
    base_g0 = (
        float(baseline.grad_init[0])
        if baseline is not None
        else (float(g0[0]) if r.name == "baseline" else _baseline_input_grad(config))
    )
    ratio = 0.0 if r.name == "baseline" else _log10_ratio(g0[0], base_g0)
    trained_ratio = (
        0.0
        if r.name == "baseline"
        else _log10_ratio(g1[0], baseline.grad_trained[0])
        if baseline is not None
        else float("nan")
    )
    spread = _log10_ratio(g0[0], g0[-1])
    if r.name == "baseline":
        matches = True
        verdict = f"The reference: the gradient changes {_pow(spread)}× from the last to the first layer" + (
            f" (mean-field chi_1 = {chi:.2g} per layer)." if np.isfinite(chi) else "."
        )
    elif r.kind == "evolution":
        start, end = (
            float(np.mean(loss_curve[: max(1, len(loss_curve) // 10)])),
            float(np.mean(loss_curve[-max(1, len(loss_curve) // 10) :])),
        )
        matches = bool(end < start)
        verdict = (
            f"Uses no gradient, so none can vanish: the training loss went {start:.3f} → {end:.3f} in "
            f"{config.steps} generations (chance level ln {N_CLASSES} = {math.log(N_CLASSES):.3f}; held-out "
            f"accuracy {acc:.0%})" + ("." if matches else ": NOT lower in this setting.")
        )
    else:
        matches = _judge(r, ratio, spread)
        verdict = _verdict(r, ratio, spread, chi, matches)
    return RemedyResult(
        r.name,
        r.label,
        layers,
        g0,
        g1,
        np.asarray(loss_curve, np.float64),
        float(loss),
        float(acc),
        ratio,
        _direction(ratio) if r.kind != "evolution" else "flat",
        matches,
        verdict,
        time.perf_counter() - t0,
        notes,
        group=r.group,
        expected=r.expected,
        trained_input_grad_ratio=trained_ratio,
        spread=spread,
        chi_1=chi,
        link=r.link,
    )


def run_lab_iter(config: LabConfig = LabConfig(), names: Sequence[str] | None = None) -> Iterator[RemedyResult]:
    """The baseline first, then one result per requested remedy as it finishes.

    In the order given, duplicates and "baseline" skipped; all entries when ``names`` is None. Unknown names raise
    ConfigError before any run.

    Args:
      config: the lab's shared settings.
      names: the remedies to run (None: all).

    Returns:
      An iterator of :class:`RemedyResult`.

    References:
      Wikipedia, "Vanishing gradient problem", section "Solutions".
    """
    wanted = [remedy(n).name for n in (names if names is not None else [r.name for r in REMEDIES])]
    base = run_remedy("baseline", config)
    yield base
    seen = {"baseline"}
    for n in wanted:
        if n in seen:
            continue
        seen.add(n)
        yield run_remedy(n, config, base)


def run_lab(config: LabConfig = LabConfig(), names: Sequence[str] | None = None) -> list[RemedyResult]:
    """All results of :func:`run_lab_iter` as a list.

    Args:
      config: the lab's shared settings.
      names: the remedies to run (None: all).

    Returns:
      A list of :class:`RemedyResult`, baseline first.

    References:
      Wikipedia, "Vanishing gradient problem", section "Solutions".
    """
    return list(run_lab_iter(config, names))


def rank(results: Sequence[RemedyResult]) -> list[RemedyResult]:
    """Results ordered best first.

    By held-out loss after training (lower is better, rounded to 3 decimals so that differences below the probe
    batch's noise do not decide), ties by the input-layer gradient ratio (higher first); entries without a loss (the
    LSTM link) come last in their given order.

    Args:
      results: lab results.

    Returns:
      A new list, best first.

    References:
      None beyond this module's docstring (the lab's criteria).
    """

    def key(item):
        i, r = item
        missing = not np.isfinite(r.final_loss)
        return (
            missing,
            round(r.final_loss, 3) if not missing else 0.0,
            -r.input_grad_ratio if np.isfinite(r.input_grad_ratio) else 0.0,
            i,
        )

    return [r for _, r in sorted(enumerate(results), key=key)]


# ----------------------------------------------------------------------------------------------------------------
# Veit, Wilber & Belongie (2016): a residual net as an ensemble of paths

#: Largest number of residual blocks for the path counts (C(66, 33) < 2^63 still fits an int64).
MAX_VEIT_BLOCKS = 66
#: Examples of the probe batch used by the path-length expansion: it propagates one (examples × width) cotangent per
#: path length (n + 1 of them) through every block, so its cost is n² matmuls; 32 examples keep the default
#: (19 blocks, width 128) at ~1 GFLOP, and the norms average 32 × width entries.
VEIT_BATCH = 32


@dataclasses.dataclass(frozen=True)
class VeitAnalysis:
    """Veit et al. (2016) on the lab's residual net (n = depth - 1 residual blocks h_l = h_(l-1) + σ(s_l)).

    ``counts[k]`` = C(n, k) paths of length k (k residual branches taken, n - k identity shortcuts);
    ``distribution`` = counts / 2^n = Binomial(n, 1/2) pmf (their Fig. 6a). ``grad_by_length[k]`` = ‖G_k‖, where
    ∂L/∂h_1 = Σ_k G_k is the exact split of the gradient at the first block's input by path length (the coefficient
    of t^k in δ_L Π_l (I + t J_l)); ``per_path[k]`` = ‖G_k‖ / C(n, k), the mean contribution of one path of length k
    (their Fig. 6b shows the per-path magnitude, 6c the total); ``full_grad_norm`` = ‖Σ_k G_k‖.
    """

    lengths: np.ndarray
    counts: np.ndarray
    distribution: np.ndarray
    grad_by_length: np.ndarray
    per_path: np.ndarray
    full_grad_norm: float
    n_blocks: int


def _check_blocks(n_blocks) -> int:
    return check_int("n_blocks", n_blocks, 0, MAX_VEIT_BLOCKS)


def veit_path_counts(n_blocks: int) -> np.ndarray:
    """The number of paths of each length k = 0..n through n residual blocks: C(n, k).

    Args:
      n_blocks: n, 0 to MAX_VEIT_BLOCKS.

    Returns:
      An int64 array of shape (n + 1,) (exact).

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Sec. 3 (the unraveled view: 2^n paths).
    """
    n = _check_blocks(n_blocks)
    return np.array([math.comb(n, k) for k in range(n + 1)], np.int64)


def veit_path_distribution(n_blocks: int) -> np.ndarray:
    """The fraction of the 2^n paths with length k: C(n, k) / 2^n, the Binomial(n, 1/2) pmf.

    Args:
      n_blocks: n, 0 to MAX_VEIT_BLOCKS.

    Returns:
      A float64 array of shape (n + 1,) summing to 1.

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Fig. 6(a).
    """
    n = _check_blocks(n_blocks)
    return np.array([math.comb(n, k) / 2.0**n for k in range(n + 1)], np.float64)


def _residual_forward(params: mlp.Params, act_idx, depth, x):
    """h_1 and the pre-activations s_l (rows 1..depth-1 of a (capacity, batch, width) buffer) of the residual net
    h_1 = φ(x W_in + b_in), h_l = h_(l-1) + φ(h_(l-1) W_l + b_l) (vgp_core.mlp's residual layout, no batch norm)."""
    from .. import activations

    h1 = activations.apply(act_idx, x @ params.w_in + params.b_in, params.slope[0])
    capacity = params.w.shape[0]
    pre = jnp.zeros((capacity,) + h1.shape, h1.dtype)

    def body(c):
        l, h, pre = c
        s = h @ params.w[l] + params.b[l]
        return l + 1, h + activations.apply(act_idx, s, params.slope[l]), pre.at[l].set(s)

    _, h_last, pre = jax.lax.while_loop(lambda c: c[0] < depth, body, (jnp.int32(1), h1, pre))
    return h1, h_last, pre


@jax.jit
def _veit_program(params: mlp.Params, act_idx, depth, x, y):
    """Coefficients G_k (capacity, batch, width) of δ_L Π_(l=L..2) (I + t J_l), J_l = diag(φ'(s_l)) W_l^T acting on
    row vectors; the last layer's δ_L = ∂L/∂h_L (L = mean cross-entropy over the batch)."""
    import optax

    from .. import activations

    _, h_last, pre = _residual_forward(params, act_idx, depth, x)

    def head(h):
        logits = h @ params.w_out + params.b_out
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    delta = jax.grad(head)(h_last)
    capacity = params.w.shape[0]
    coef = jnp.zeros((capacity,) + delta.shape, delta.dtype).at[0].set(delta)

    def body(c):
        l, coef = c
        _, dphi = activations.value_and_derivative(act_idx, pre[l], params.slope[l])
        branch = (coef[:-1] * dphi) @ params.w[l].T  # one residual branch more on every path
        return l - 1, coef.at[1:].add(branch)

    _, coef = jax.lax.while_loop(lambda c: c[0] >= 1, body, (depth - 1, coef))
    return coef


def _veit_inputs(config: LabConfig, n_blocks, params):
    if n_blocks is not None:
        n = check_int("n_blocks", n_blocks, 1, MAX_LAB_DEPTH - 1)
        config = config.replace(depth=n + 1)
    cfg = config.mlp_config(**dict(remedy("residual").changes))
    params = mlp.init_params(cfg) if params is None else mlp.check_params(cfg, params)
    x, y = mlp._probe_batch(cfg.seed, cfg.batch_size, cfg.input_dim, cfg.n_classes)
    from .. import activations

    return cfg, params, jnp.int32(activations.index(cfg.activation)), x[:VEIT_BATCH], y[:VEIT_BATCH]


def veit_gradient_components(
    config: LabConfig = LabConfig(), n_blocks: int | None = None, params: mlp.Params | None = None
) -> np.ndarray:
    """G_k for k = 0..n: the part of ∂L/∂h_1 carried by the paths that take exactly k residual branches.

    In the lab's residual net (``remedy("residual")`` on ``config``; n = depth - 1, or ``n_blocks`` blocks when given).
    Σ_k G_k = ∂L/∂h_1. L is the mean loss over the first VEIT_BATCH probe examples.

    Args:
      config: the lab's shared settings.
      n_blocks: the number of residual blocks (None: depth - 1).
      params: the parameters (``mlp.init_params`` layout), e.g. trained weights (None: the initialization).

    Returns:
      A float32 array of shape (n + 1, VEIT_BATCH, width).

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Sec. 3 (the unraveled view) and Fig. 6 (here the expansion is exact instead of
      sampled).
    """
    cfg, params, act, x, y = _veit_inputs(config, n_blocks, params)
    coef = _veit_program(params, act, jnp.int32(cfg.depth), x, y)
    return np.asarray(coef)[: cfg.depth]


def veit_gradient_by_path_length(
    config: LabConfig = LabConfig(), n_blocks: int | None = None, params: mlp.Params | None = None
) -> np.ndarray:
    """‖G_k‖ for k = 0..n: the gradient magnitude that paths of length k contribute at the first block's input.

    An exact expansion instead of the paper's path sampling; see :func:`veit_gradient_components`.

    Args:
      config: the lab's shared settings.
      n_blocks: the number of residual blocks (None: depth - 1).
      params: the parameters (None: the initialization).

    Returns:
      A float64 array of shape (n + 1,).

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Fig. 6(b).
    """
    comps = veit_gradient_components(config, n_blocks, params)
    return np.linalg.norm(comps.reshape(comps.shape[0], -1).astype(np.float64), axis=1)


def veit_analysis(
    config: LabConfig = LabConfig(), n_blocks: int | None = None, params: mlp.Params | None = None
) -> VeitAnalysis:
    """Path counts, their Binomial(n, 1/2) distribution and the measured gradient by path length, side by side.

    Args:
      config: the lab's shared settings.
      n_blocks: the number of residual blocks (None: depth - 1).
      params: the parameters (None: the initialization).

    Returns:
      A :class:`VeitAnalysis`.

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Sec. 3 and Fig. 6.
    """
    comps = veit_gradient_components(config, n_blocks, params).astype(np.float64)
    n = comps.shape[0] - 1
    by_len = np.linalg.norm(comps.reshape(n + 1, -1), axis=1)
    counts = veit_path_counts(n)
    return VeitAnalysis(
        np.arange(n + 1),
        counts,
        veit_path_distribution(n),
        by_len,
        by_len / counts,
        float(np.linalg.norm(comps.sum(axis=0))),
        n,
    )


def warm_up(config: LabConfig = LabConfig()) -> None:
    """Compile every program the lab uses for ``config``'s shapes (width, batch).

    The deep-net training chunk for SGD and Rprop, the profiles, pre-training, the evolution strategy, the LSTM
    comparison and the Veit expansion, by running every entry for one chunk. Depth, steps and every other setting are
    traced, so later runs with the same width and batch size compile nothing.

    Args:
      config: the lab's shared settings (its width and batch size fix the shapes).

    Returns:
      None.

    References:
      JAX documentation, "Just-in-time compilation".
    """
    small = config.replace(steps=CHUNK, pretrain_updates=1)
    for _ in run_lab_iter(small):
        pass
    veit_analysis(small)
