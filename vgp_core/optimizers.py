"""The optimizers of every training loop in vgp_core: an optax update rule behind gradient-norm clipping.

References:
  optax documentation, "Optimizers" (``optax.sgd``, ``optax.adam``, ``optax.rmsprop``, ``optax.rprop``) and
  "Transformations" (``optax.clip_by_global_norm``, ``optax.chain``).
  Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks", arXiv:1211.5063,
  Sec. 3.2 and Algorithm 1 (gradient-norm clipping).
"""

from __future__ import annotations

import math

import optax

from .errors import check_choice

#: Every update rule a training loop of vgp_core offers (the Deep page's optimizer control lists them).
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "rprop")
#: The heavy-ball coefficient of "momentum" (Polyak 1964; the value Sutskever et al. 2013, Sec. 2, start from).
MOMENTUM = 0.9


def update_rule(name: str, learning_rate) -> optax.GradientTransformation:
    """The optax transformation of one update rule, without clipping.

    Args:
      name: one of ``OPTIMIZERS``: "sgd" (Robbins & Monro 1951), "momentum" (heavy ball, Polyak 1964, Eq. 9 of
        Sutskever et al. 2013), "adam" (Kingma & Ba 2015, Algorithm 1), "rmsprop" (Tieleman & Hinton 2012,
        Coursera "Neural Networks for Machine Learning", lecture 6.5) or "rprop" (Riedmiller & Braun 1993, "A
        direct adaptive method for faster backpropagation learning: the RPROP algorithm", Sec. 3).
      learning_rate: the step size (a float or a traced scalar); for "rprop" the initial per-weight step.

    Returns:
      An ``optax.GradientTransformation``.

    References:
      optax documentation, "Optimizers": ``optax.sgd``, ``optax.adam``, ``optax.rmsprop``, ``optax.rprop``.
    """
    name = check_choice("optimizer", name, OPTIMIZERS)
    if name == "sgd":
        return optax.sgd(learning_rate)
    if name == "momentum":
        return optax.sgd(learning_rate, momentum=MOMENTUM)
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "rmsprop":
        return optax.rmsprop(learning_rate)
    return optax.rprop(learning_rate)


def clipped(name: str, learning_rate, clip_norm=math.inf) -> optax.GradientTransformation:
    """An update rule applied to the gradient rescaled to global norm at most ``clip_norm``.

    Args:
      name: the update rule, one of ``OPTIMIZERS`` (see :func:`update_rule`).
      learning_rate: its step size (a float or a traced scalar).
      clip_norm: the threshold of the global gradient norm (a float or a traced scalar); ``inf`` leaves every
        gradient unchanged, so one compiled program serves runs with and without clipping.

    Returns:
      ``optax.chain(optax.clip_by_global_norm(clip_norm), update_rule(name, learning_rate))``.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Sec. 3.2, Algorithm 1: ĝ ← threshold/||ĝ|| · ĝ when
      ||ĝ|| ≥ threshold.
      optax documentation, "Transformations": ``optax.clip_by_global_norm``, ``optax.chain``.
    """
    return optax.chain(optax.clip_by_global_norm(clip_norm), update_rule(name, learning_rate))
