"""Greedy layer-wise unsupervised pre-training of a deep sigmoid MLP (Hinton, Osindero & Teh 2006; Bengio et al.
2007; the remedy of Schmidhuber 1992 and Hinton et al. 2006 in the Wikipedia article "Vanishing gradient problem",
sections "Multi-level hierarchy" and "Deep belief network").

Each hidden layer l of a :mod:`vgp_core.mlp` network, h_l = σ(h_(l-1) W_l + b_l), is trained in turn, from the input
up, as an unsupervised model of the representation h_(l-1) produced by the layers already trained below it; the
supervised output layer is left at its initialization and the whole net is fine-tuned afterwards
(``mlp.train_with_params``). Two models are available:

* ``"rbm"``: a restricted Boltzmann machine with weights W_l and hidden biases b_l (so p(h = 1 | v) = σ(v W_l + b_l)
  is exactly the MLP layer) and visible biases a, trained by contrastive divergence with one Gibbs step, CD-1
  (Hinton 2002, Eq. 5; Hinton 2010, "A practical guide to training RBMs", Secs. 3-4)::

      p0 = σ(v0 W + b),  h0 ~ Bernoulli(p0),  v1 = E[v | h0],  p1 = σ(v1 W + b)
      ΔW = η (v0ᵀ p0 - v1ᵀ p1) / B,   Δb = η mean(p0 - p1),   Δa = η mean(v0 - v1)

  The first layer's visible units are Gaussian with unit variance (the task's inputs have unit-variance
  coordinates), E[v | h] = h Wᵀ + a (Hinton & Salakhutdinov 2006, "Gaussian-Bernoulli" RBM); higher layers' visible
  units are binary, E[v | h] = σ(h Wᵀ + a). Reconstructions use probabilities, hidden states are sampled (guide,
  Sec. 3.2). The next layer sees the mean-field representation σ(v W + b) (Hinton et al. 2006, Sec. 4).
* ``"autoencoder"``: a tied-weight autoencoder, v̂ = d(σ(v W + b) Wᵀ + a) with d the identity on the first layer and
  σ above it, trained by SGD on the mean squared reconstruction error (Bengio, Lamblin, Popovici & Larochelle 2007).

Every layer's reconstruction error ‖v - v1‖² (mean over examples and units; v1 = E[v | h0] for the RBM, v̂ for the
autoencoder) is reported before and after its training, and as a curve of :data:`CURVE_POINTS` bin means.

Engineering: one module-level jitted program per (network shapes, example count, batch size). The number of
hidden layers, the updates per layer, the learning rate and the method are traced (``lax.while_loop`` over the
active layers, ``lax.fori_loop`` over updates, ``lax.switch`` on the method), so they never compile.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import bounds, data, mlp
from .errors import ConfigError

METHODS = ("rbm", "autoencoder")
#: Reconstruction-error curve resolution: each layer's updates are split into this many equal bins.
CURVE_POINTS = 10


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """``updates``: minibatch updates per layer; ``n_examples``: size of the fixed unlabelled training set drawn from
    the network's task (its labels are never used); ``batch_size``: minibatch size (≤ n_examples)."""

    method: str = bounds.choice("rbm", METHODS, label="pre-training method")
    updates: int = bounds.integer(100, 1, 1_000_000)
    learning_rate: float = bounds.real(0.05, 1e-8, 10.0)
    n_examples: int = bounds.integer(1024, 2, 1 << 16)
    batch_size: int = bounds.integer(64, 1, 4096)
    seed: int = bounds.integer(0, 0, 2**31 - 1)

    def __post_init__(self):
        bounds.validate(self)
        if self.batch_size > self.n_examples:
            raise ConfigError(f"batch_size ({self.batch_size}) must be at most n_examples ({self.n_examples})")


@dataclasses.dataclass(frozen=True)
class PretrainTrace:
    """Per hidden layer (index 0 = layer 1): reconstruction error on the whole training set before and after the
    layer's training, and the mean error of the minibatches in each of CURVE_POINTS bins of its updates."""

    error_before: np.ndarray  # (depth,)
    error_after: np.ndarray  # (depth,)
    curve: np.ndarray  # (depth, CURVE_POINTS)


def _decode(v_lin, gaussian):
    return jnp.where(gaussian, v_lin, jax.nn.sigmoid(v_lin))


def _rbm_step(w, b, a, v0, key, lr, gaussian):
    """One CD-1 update (module docstring); returns the new (w, b, a) and the reconstruction error of v0."""
    p0 = jax.nn.sigmoid(v0 @ w + b)
    h0 = jax.random.bernoulli(key, p0).astype(v0.dtype)
    v1 = _decode(h0 @ w.T + a, gaussian)
    p1 = jax.nn.sigmoid(v1 @ w + b)
    n = v0.shape[0]
    w = w + lr * (v0.T @ p0 - v1.T @ p1) / n
    b = b + lr * jnp.mean(p0 - p1, axis=0)
    a = a + lr * jnp.mean(v0 - v1, axis=0)
    return (w, b, a), jnp.mean((v0 - v1) ** 2)


def _ae_loss(wba, v, gaussian):
    w, b, a = wba
    v_hat = _decode(jax.nn.sigmoid(v @ w + b) @ w.T + a, gaussian)
    return jnp.mean((v - v_hat) ** 2)


def _ae_step(w, b, a, v0, key, lr, gaussian):
    """One SGD step on the tied autoencoder's mean squared reconstruction error; returns the error before it."""
    err, (gw, gb, ga) = jax.value_and_grad(_ae_loss)((w, b, a), v0, gaussian)
    return (w - lr * gw, b - lr * gb, a - lr * ga), err


def _recon_error(method, w, b, a, v, key, gaussian):
    def rbm(v):
        h = jax.random.bernoulli(key, jax.nn.sigmoid(v @ w + b)).astype(v.dtype)
        return jnp.mean((v - _decode(h @ w.T + a, gaussian)) ** 2)

    return jax.lax.switch(method, (rbm, lambda v: _ae_loss((w, b, a), v, gaussian)), v)


def _train_layer(method, w, b, v, key, updates, lr, batch, gaussian):
    """Train one layer on the representation ``v`` (n, n_vis); returns (w, b), errors before/after and the curve."""
    a = jnp.mean(v, axis=0)  # visible biases start at the data mean (guide, Sec. 8.1)
    n = v.shape[0]
    k_eval0, k_eval1, k_train = jax.random.split(key, 3)
    before = _recon_error(method, w, b, a, v, k_eval0, gaussian)

    def body(i, c):
        w, b, a, sums, counts = c
        k = jax.random.fold_in(k_train, i)
        idx = jax.random.choice(jax.random.fold_in(k, 1), n, (batch,), replace=False)
        (w, b, a), err = jax.lax.switch(method, (_rbm_step, _ae_step), w, b, a, v[idx], k, lr, gaussian)
        bin_ = jnp.minimum(i * CURVE_POINTS // updates, CURVE_POINTS - 1)
        return w, b, a, sums.at[bin_].add(err), counts.at[bin_].add(1.0)

    zeros = jnp.zeros((CURVE_POINTS,), jnp.float32)
    w, b, a, sums, counts = jax.lax.fori_loop(0, updates, body, (w, b, a, zeros, zeros))
    after = _recon_error(method, w, b, a, v, k_eval1, gaussian)
    curve = jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), jnp.nan)
    return w, b, before, after, curve


@functools.partial(jax.jit, static_argnames=("batch",))
def _pretrain_program(params: mlp.Params, x, key, depth, method, updates, lr, batch):
    capacity = params.w.shape[0]
    nan = jnp.full((capacity,), jnp.nan, jnp.float32)
    k0, k_rest = jax.random.split(key)
    w_in, b_in, e0, e1, c = _train_layer(method, params.w_in, params.b_in, x, k0, updates, lr, batch, True)
    before, after = nan.at[0].set(e0), nan.at[0].set(e1)
    curves = jnp.full((capacity, CURVE_POINTS), jnp.nan, jnp.float32).at[0].set(c)
    h = jax.nn.sigmoid(x @ w_in + b_in)

    def body(carry):
        l, h, w, b, before, after, curves = carry
        wl, bl, e0, e1, c = _train_layer(
            method, w[l], b[l], h, jax.random.fold_in(k_rest, l), updates, lr, batch, False
        )
        h = jax.nn.sigmoid(h @ wl + bl)  # mean-field representation for the next layer
        return (
            l + 1,
            h,
            w.at[l].set(wl),
            b.at[l].set(bl),
            before.at[l].set(e0),
            after.at[l].set(e1),
            curves.at[l].set(c),
        )

    _, _, w, b, before, after, curves = jax.lax.while_loop(
        lambda c: c[0] < depth, body, (jnp.int32(1), h, params.w, params.b, before, after, curves)
    )
    return params._replace(w_in=w_in, b_in=b_in, w=w, b=b), before, after, curves


def pretrain(
    config: mlp.MLPConfig, pretrain_config: PretrainConfig = PretrainConfig(), params: mlp.Params | None = None
) -> tuple[mlp.Params, PretrainTrace]:
    """Greedy layer-wise pre-training of ``config``'s hidden layers.

    Starts from ``params`` (default: the network's initialization, :func:`vgp_core.mlp.init_params`). Requires the
    logistic-sigmoid activation, no batch norm, no residuals and gain 1 (the layers must be the RBMs' conditional
    p(h | v)); ConfigError otherwise.

    Args:
      config: the network.
      pretrain_config: the method, updates per layer, learning rate, examples, batch size and seed.
      params: the parameters to start from (None: the initialization).

    Returns:
      (pre-trained parameters with the output layer unchanged, :class:`PretrainTrace`).

    References:
      Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets", Neural Computation 18(7),
      Sec. 4; Hinton (2002), "Training products of experts by minimizing contrastive divergence", Eq. 5 (CD-1);
      Bengio et al. (2007), "Greedy layer-wise training of deep networks", NeurIPS.
    """
    if not isinstance(pretrain_config, PretrainConfig):
        raise ConfigError(f"pretrain_config must be a PretrainConfig, got {type(pretrain_config).__name__}")
    if config.activation != "sigmoid" or config.batchnorm or config.residual or config.gain != 1.0:
        raise ConfigError(
            "pre-training needs a plain sigmoid MLP (activation 'sigmoid', gain 1, no batch norm, "
            "no residual connections)"
        )
    pc = pretrain_config
    params = mlp.init_params(config) if params is None else mlp.check_params(config, params)
    task_key, _ = mlp._data_keys(config.seed)  # the network's task (its class centres)
    data_key = jax.random.fold_in(jax.random.PRNGKey(pc.seed), 11)  # a set apart from training and probe batches
    x, _ = data.gaussian_mixture(task_key, data_key, pc.n_examples, config.input_dim, config.n_classes)
    out, before, after, curves = _pretrain_program(
        params,
        x,
        jax.random.fold_in(jax.random.PRNGKey(pc.seed), 12),
        jnp.int32(config.depth),
        jnp.int32(METHODS.index(pc.method)),
        jnp.int32(pc.updates),
        jnp.float32(pc.learning_rate),
        batch=pc.batch_size,
    )
    before, after, curves = jax.device_get((before, after, curves))
    d = config.depth
    return out, PretrainTrace(np.asarray(before)[:d], np.asarray(after)[:d], np.asarray(curves)[:d])


__all__ = ["METHODS", "CURVE_POINTS", "PretrainConfig", "PretrainTrace", "pretrain"]
