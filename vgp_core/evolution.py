"""Gradient-free training of a :mod:`vgp_core.mlp` network by an evolution strategy (the Wikipedia article
"Vanishing gradient problem", section "Other": a search of the weight space that "is not based on gradient and
avoids the vanishing gradient problem").

OpenAI-ES (Salimans, Ho, Chen, Sidor & Sutskever 2017, Algorithm 2) with antithetic ("mirrored") sampling
(Brockhoff et al. 2010) over every weight and bias θ of the network. Generation k draws P noise vectors ε_p and
evaluates the loss F on generation k's minibatch at θ + σε_p and θ - σε_p (2P forward passes, no backward pass).
The losses are replaced by centred ranks in [-1/2, 1/2] (fitness shaping, Salimans et al. Sec. 2.2, after
Wierstra et al. 2014), u_p^± = rank(F(θ ± σε_p)), and the search gradient

    g = 1 / (P σ) · Σ_p (u_p^+ - u_p^-) / 2 · ε_p            (an estimate of ∇_θ E_ε[u(θ + σε)])

is handed to Adam (as in Salimans et al.), θ ← θ - Adam(g). No back-propagated gradient is ever formed, so the
vanishing gradient of a deep sigmoid net cannot stall it; instead the estimate's variance grows with the number of
parameters (hundreds of thousands here), which is the price.

Noise: like Salimans et al. (Sec. 2.1, "shared noise table"), ε is never stored. A fixed table of
:data:`NOISE_TABLE_SIZE` standard normals is drawn once per seed, and the noise of pair p for parameter tensor j is
the slice of the table at an offset drawn from (generation key, p, j). Only the active layers' slices are ever
read, so a generation costs 2P + 1 forward passes of the active depth plus P slices per active tensor.

Engineering: one module-level jitted program per (network shapes, pairs, chunk length) runs ``chunk``
generations with ``lax.scan``; depth, activation, residual flag, σ and the learning rate are traced.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import activations, bounds, data, mlp
from .errors import ConfigError, check_int

#: Standard normals in the shared noise table (16 MiB of float32). Each slice is one tensor's noise (at most
#: width² = 262,144 values), so offsets range over ≥ 16× the slice length and slices of different pairs rarely
#: coincide (Salimans et al. used 250 million values for networks of ~10^6 parameters).
NOISE_TABLE_SIZE = 1 << 22
#: Generations per compiled chunk (:func:`evolve_iter` yields after each).
CHUNK = 10


@dataclasses.dataclass(frozen=True)
class ESConfig:
    """``generations``: number of updates; ``pairs``: antithetic pairs P per generation (2P loss evaluations);
    ``sigma``: noise scale σ; ``learning_rate``: Adam's step size; ``batch_size``: examples per loss evaluation
    (None: the network's batch size)."""

    generations: int = bounds.integer(200, 1, 1_000_000)
    pairs: int = bounds.integer(16, 1, 4096)
    sigma: float = bounds.real(0.02, 1e-8, 100.0)
    learning_rate: float = bounds.real(0.02, 1e-8, 100.0)
    seed: int = bounds.integer(0, 0, 2**31 - 1)
    batch_size: int | None = None  # checked below: None is allowed

    def __post_init__(self):
        bounds.validate(self)
        if self.batch_size is not None:
            object.__setattr__(self, "batch_size", check_int("batch_size", self.batch_size, 1, 4096))


@dataclasses.dataclass(frozen=True)
class ESTrace:
    """Per generation k (shape (generations,)): the loss and accuracy of the mean θ on generation k's batch before
    its update, and the mean and minimum loss over the 2P perturbed networks."""

    loss: np.ndarray
    accuracy: np.ndarray
    population_mean_loss: np.ndarray
    population_min_loss: np.ndarray

    @property
    def generations(self) -> int:
        return int(self.loss.shape[0])


class _Static(NamedTuple):
    act: jax.Array  # int32 activation index
    residual: jax.Array  # bool
    depth: jax.Array  # int32


@functools.partial(jax.jit, static_argnames=("size",))
def _table(key, size):
    return jax.random.normal(key, (size,), jnp.float32)


@functools.lru_cache(maxsize=2)
def _noise_table(seed: int) -> jax.Array:
    return _table(jax.random.fold_in(jax.random.PRNGKey(seed), 21), size=NOISE_TABLE_SIZE)


def _noise(table, gen_key, pair, tensor, shape):
    """Pair ``pair``'s noise for parameter tensor number ``tensor`` (a slice of the shared table)."""
    size = int(np.prod(shape))
    key = jax.random.fold_in(jax.random.fold_in(gen_key, pair), tensor)
    off = jax.random.randint(key, (), 0, NOISE_TABLE_SIZE - size + 1)
    return jax.lax.dynamic_slice(table, (off,), (size,)).reshape(shape)


# Tensor numbers: 0 w_in, 1 b_in, 2 w_out, 3 b_out, 4 + 2l hidden w_l, 5 + 2l hidden b_l (l = 1..depth-1).


def _loss(params: mlp.Params, s: _Static, x, y, perturb):
    """Mean cross-entropy and accuracy of the MLP (vgp_core.mlp's layout, gain 1, no batch norm) with every tensor
    t replaced by t + perturb(number, shape)."""
    w_in = params.w_in + perturb(0, params.w_in.shape)
    b_in = params.b_in + perturb(1, params.b_in.shape)
    h = activations.apply(s.act, x @ w_in + b_in, params.slope[0])

    def body(c):
        l, h = c
        w = params.w[l] + perturb(4 + 2 * l, params.w.shape[1:])
        b = params.b[l] + perturb(5 + 2 * l, params.b.shape[1:])
        a = activations.apply(s.act, h @ w + b, params.slope[l])
        return l + 1, jnp.where(s.residual, h + a, a)

    _, h = jax.lax.while_loop(lambda c: c[0] < s.depth, body, (jnp.int32(1), h))
    logits = h @ (params.w_out + perturb(2, params.w_out.shape)) + params.b_out + perturb(3, params.b_out.shape)
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
    return loss, jnp.mean(jnp.argmax(logits, axis=-1) == y)


def _centred_ranks(f):
    """Centred ranks in [-1/2, 1/2] (Salimans et al. 2017, Sec. 2.2): 0 for the smallest value, 1 the largest."""
    ranks = jnp.argsort(jnp.argsort(f)).astype(jnp.float32)
    return ranks / (f.shape[0] - 1) - 0.5


def _search_gradient(params: mlp.Params, table, gen_key, coef, depth):
    """Σ_p coef_p ε_p as a Params pytree (zero for batch-norm scales/shifts, PReLU slopes and idle layers)."""
    pairs = jnp.arange(coef.shape[0])

    def combine(tensor, shape):
        eps = jax.vmap(lambda p: _noise(table, gen_key, p, tensor, shape))(pairs)
        return jnp.tensordot(coef, eps, axes=1)

    def body(c):
        l, gw, gb = c
        return (
            l + 1,
            gw.at[l].set(combine(4 + 2 * l, params.w.shape[1:])),
            gb.at[l].set(combine(5 + 2 * l, params.b.shape[1:])),
        )

    _, gw, gb = jax.lax.while_loop(
        lambda c: c[0] < depth, body, (jnp.int32(1), jnp.zeros_like(params.w), jnp.zeros_like(params.b))
    )
    zero = jnp.zeros_like
    return mlp.Params(
        w_in=combine(0, params.w_in.shape),
        b_in=combine(1, params.b_in.shape),
        w=gw,
        b=gb,
        gamma=zero(params.gamma),
        beta=zero(params.beta),
        slope=zero(params.slope),
        w_out=combine(2, params.w_out.shape),
        b_out=combine(3, params.b_out.shape),
    )


def _tx(learning_rate):
    return optax.adam(learning_rate)


@jax.jit
def _init_state(params, learning_rate):
    return _tx(learning_rate).init(params)


@functools.partial(jax.jit, static_argnames=("pairs", "chunk", "batch"))
def _es_chunk(
    params, opt_state, gen0, s: _Static, table, run_key, task_key, stream_key, sigma, learning_rate, pairs, chunk, batch
):
    tx = _tx(learning_rate)
    n_classes, input_dim = params.w_out.shape[1], params.w_in.shape[0]

    def generation(carry, gen):
        params, opt_state = carry
        x, y = data.gaussian_mixture(task_key, jax.random.fold_in(stream_key, gen), batch, input_dim, n_classes)
        gen_key = jax.random.fold_in(run_key, gen)

        def member(pair, sign):
            return _loss(params, s, x, y, lambda j, shape: sign * sigma * _noise(table, gen_key, pair, j, shape))[0]

        pair_ids = jnp.arange(pairs)
        f = jax.vmap(member)(
            jnp.concatenate([pair_ids, pair_ids]),
            jnp.concatenate([jnp.ones(pairs), -jnp.ones(pairs)]).astype(jnp.float32),
        )
        u = _centred_ranks(f)
        coef = (u[:pairs] - u[pairs:]) / (2.0 * pairs * sigma)
        grad = _search_gradient(params, table, gen_key, coef, s.depth)
        mean_loss, mean_acc = _loss(params, s, x, y, lambda j, shape: jnp.zeros(shape, jnp.float32))
        updates, opt_state = tx.update(grad, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (mean_loss, mean_acc, jnp.mean(f), jnp.min(f))

    (params, opt_state), out = jax.lax.scan(generation, (params, opt_state), gen0 + jnp.arange(chunk))
    return params, opt_state, out


def _check(config: mlp.MLPConfig, es: ESConfig):
    if not isinstance(es, ESConfig):
        raise ConfigError(f"es_config must be an ESConfig, got {type(es).__name__}")
    if config.batchnorm:
        raise ConfigError("the evolution strategy searches plain MLPs (no batch norm)")
    if config.gain != 1.0:
        raise ConfigError("the evolution strategy expects gain 1 (fold the gain into the initializer)")
    shapes = (config.input_dim * config.width, config.width * config.width, config.width * config.n_classes)
    if max(shapes) > NOISE_TABLE_SIZE // 4:
        raise ConfigError(f"a weight matrix of {max(shapes)} entries is too large for the noise table")


def evolve_iter(
    config: mlp.MLPConfig, es_config: ESConfig = ESConfig(), params: mlp.Params | None = None
) -> Iterator[tuple[ESTrace, mlp.Params]]:
    """Run the evolution strategy on ``config``'s network and task, yielding after every CHUNK generations.

    Generation k uses the same minibatch as step k of :func:`vgp_core.mlp.train_iter`, so loss curves line up; the
    last chunk is trimmed.

    Args:
      config: the network and its task.
      es_config: generations, antithetic pairs, noise scale σ, Adam step, seed and batch size.
      params: the parameters to start from (None: the network's initialization).

    Returns:
      An iterator of (trace so far, current mean parameters).

    References:
      Salimans, Ho, Chen, Sidor & Sutskever (2017), "Evolution strategies as a scalable alternative to reinforcement
      learning", arXiv:1703.03864, Algorithm 2 and Sec. 2.2 (fitness shaping); Brockhoff et al. (2010), "Mirrored
      sampling and sequential selection for evolution strategies", PPSN XI (antithetic pairs).
    """
    _check(config, es_config)
    es = es_config
    params = mlp.init_params(config) if params is None else mlp.check_params(config, params)
    s = _Static(jnp.int32(activations.index(config.activation)), jnp.bool_(config.residual), jnp.int32(config.depth))
    task_key, _ = mlp._data_keys(config.seed)
    stream_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3)  # mlp.train_iter's minibatch stream
    run_key = jax.random.fold_in(jax.random.PRNGKey(es.seed), 22)
    table = _noise_table(es.seed)
    batch = es.batch_size or config.batch_size
    lr = jnp.float32(es.learning_rate)
    opt_state = _init_state(params, lr)
    parts, done = [], 0
    while done < es.generations:
        params, opt_state, out = _es_chunk(
            params,
            opt_state,
            jnp.int32(done),
            s,
            table,
            run_key,
            task_key,
            stream_key,
            jnp.float32(es.sigma),
            lr,
            pairs=es.pairs,
            chunk=CHUNK,
            batch=batch,
        )
        parts.append(jax.device_get(out))
        done += CHUNK
        n = min(done, es.generations)
        cat = [np.concatenate([p[i] for p in parts])[:n].astype(np.float64) for i in range(4)]
        yield ESTrace(*cat), params


def evolve(
    config: mlp.MLPConfig, es_config: ESConfig = ESConfig(), params: mlp.Params | None = None
) -> tuple[ESTrace, mlp.Params]:
    """(trace, final mean parameters) of :func:`evolve_iter`.

    ``es_config.generations`` must be a multiple of CHUNK, so the parameters have seen exactly the generations in the
    trace (ConfigError otherwise).

    Args:
      config: the network and its task.
      es_config: as for :func:`evolve_iter`.
      params: the parameters to start from (None: the network's initialization).

    Returns:
      (:class:`ESTrace`, the final mean parameters).

    References:
      Salimans et al. (2017), arXiv:1703.03864, Algorithm 2.
    """
    if es_config.generations % CHUNK:
        raise ConfigError(f"generations must be a multiple of {CHUNK} in evolve, got {es_config.generations}")
    out = None
    for out in evolve_iter(config, es_config, params):  # noqa: B007 (the loop keeps the last item)
        pass
    return out
