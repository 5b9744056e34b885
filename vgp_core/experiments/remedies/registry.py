"""The remedies lab's registry: its thresholds ("flat", "level"), the baseline network, and every remedy
(:class:`Remedy`: what it changes, what the literature predicts, its source) with its look-up by name.

References:
  Wikipedia, "Vanishing gradient problem", section "Solutions"; Glorot & Bengio (2010), AISTATS, Eqs. 1 and 16;
  each entry's ``Remedy.reference`` cites its own paper.
"""

from __future__ import annotations

import dataclasses

from ...errors import check_choice

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
