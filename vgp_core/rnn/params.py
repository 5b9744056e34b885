"""Recurrent networks: the controls traced into every program (so no move compiles), the seeded random draws and
the parameters at initialisation.

References:
  Mezzadri (2007), "How to generate random matrices from the classical compact groups", Notices of the AMS 54(5),
  Sec. 5 (Haar orthogonal matrices by QR with the sign fix).
  Wikipedia, "Vanishing gradient problem", note 3 (the ``note3`` weight family).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations
from .config import (
    _LSTM,
    CELLS,
    FAMILIES,
    INPUT_DIM,
    MAX_T,
    N_OUT,
    N_SLOTS,
    RNN_ACTIVATIONS,
    SWEEP_PROBES,
    RNNConfig,
)


# ----------------------------------------------------------------------------------------------------------------
# Traced controls, random draws and parameters
# ----------------------------------------------------------------------------------------------------------------
class Knobs(NamedTuple):
    """Every control that must not trigger a compilation, as a traced scalar."""

    cell: jax.Array  # int32 index into CELLS
    act: jax.Array  # int32 index into the activation registry
    family: jax.Array  # int32 index into FAMILIES
    radius: jax.Array  # float32
    eps: jax.Array  # float32
    c: jax.Array  # float32
    input_scale: jax.Array  # float32
    forget_bias: jax.Array  # float32
    variant: jax.Array  # int32 index into _VARIANTS: the (cell, activation) pair


class CellSettings(NamedTuple):
    """Inside a program, ``cell`` and ``act`` are Python ints: each (cell, activation) variant is a branch of one
    top-level ``lax.switch`` (see ``_specialise``), so the per-step code has no conditionals."""

    cell: int
    act: int  # activation registry index (vanilla cell only)
    note3: jax.Array  # bool
    c: jax.Array
    # Recurrent products are (W h)·rec_scale: the analysis keeps W unscaled and passes the radius here, so a sweep
    # over radii shares one W (a real matmul for all radii) instead of materialising a scaled copy per radius.
    rec_scale: jax.Array


class Params(NamedTuple):
    w_rec: jax.Array  # (N_SLOTS, H, H)
    w_in: jax.Array  # (N_SLOTS, INPUT_DIM, H)
    b: jax.Array  # (N_SLOTS, H)
    w_out: jax.Array  # (H, N_OUT)
    b_out: jax.Array  # (N_OUT,)


class Draws(NamedTuple):
    gauss: jax.Array  # (N_SLOTS, H, H) N(0,1) divided by its spectral radius
    orth: jax.Array  # (N_SLOTS, H, H) Haar orthogonal
    w_in: jax.Array  # (N_SLOTS, INPUT_DIM, H) N(0, 1/INPUT_DIM)
    w_out: jax.Array  # (H, N_OUT) N(0, 1/H)
    probes: jax.Array  # (SWEEP_PROBES, H) orthonormal rows
    u0: jax.Array  # (H,) unit vector: power-iteration start, and g of parameter_gradient_terms


class _HostDraws(NamedTuple):
    draws: Draws
    inputs: np.ndarray  # (MAX_T, INPUT_DIM)
    norm_gauss: np.ndarray  # (N_SLOTS,) ||gauss[s]||_2, float64
    norm_orth: np.ndarray  # (N_SLOTS,)


def _knobs(config: RNNConfig) -> Knobs:
    # Explicit dtypes at the boundary: a Python int where a float was traced before would compile a second version.
    return Knobs(
        cell=np.int32(CELLS.index(config.cell)),
        act=np.int32(activations.index(config.activation)),
        family=np.int32(FAMILIES.index(config.family)),
        radius=np.float32(config.spectral_radius),
        eps=np.float32(config.eps),
        c=np.float32(config.c),
        input_scale=np.float32(config.input_scale),
        forget_bias=np.float32(config.forget_bias),
        variant=np.int32(_variant_index(config.cell, config.activation)),
    )


def _haar(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diagonal(r))[None, :]  # sign fix: Haar-distributed (Mezzadri 2007)


@functools.lru_cache(maxsize=16)
def _host_draws(seed: int, hidden: int) -> _HostDraws:
    """Seeded draws (NumPy, float64 then float32): no XLA program runs, so a new seed never compiles."""
    rng = np.random.default_rng([seed, hidden, 7])
    gauss = rng.standard_normal((N_SLOTS, hidden, hidden))
    gauss = gauss / np.abs(np.linalg.eigvals(gauss)).max(axis=-1)[:, None, None]  # exact spectral radius 1
    orth = np.stack([_haar(rng, hidden) for _ in range(N_SLOTS)])
    w_in = rng.standard_normal((N_SLOTS, INPUT_DIM, hidden)) / math.sqrt(INPUT_DIM)
    w_out = rng.standard_normal((hidden, N_OUT)) / math.sqrt(hidden)
    probes = _haar(rng, hidden)[:SWEEP_PROBES]
    u0 = rng.standard_normal(hidden)
    u0 /= np.linalg.norm(u0)
    inputs = rng.standard_normal((MAX_T, INPUT_DIM)).astype(np.float32)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    draws = Draws(*(jnp.asarray(f32(a)) for a in (gauss, orth, w_in, w_out, probes, u0)))
    norms = lambda m: np.linalg.norm(f32(m).astype(np.float64), 2, axis=(1, 2))  # noqa: E731
    return _HostDraws(draws, inputs, norms(gauss), norms(orth))


def _config_draws(config: RNNConfig) -> _HostDraws:
    """The seeded draws of ``config`` (cached per seed and hidden size)."""
    return _host_draws(config.seed, config.hidden_size)


@functools.lru_cache(maxsize=32)
def _inputs(seed: int, hidden: int, capacity: int) -> jax.Array:
    return jnp.asarray(_host_draws(seed, hidden).inputs[:capacity])


def _note3_matrix(hidden, eps):
    m = jnp.zeros((hidden, hidden), jnp.float32)
    return m.at[0, 1].set(2.0).at[1, 0].set(eps)


def _build_params(draws: Draws, k: Knobs, scaled: bool = False) -> Params:
    """Parameters at initialisation; W_rec is unscaled (radius 1) unless ``scaled`` (then it includes the radius,
    and the cells must run with rec_scale = 1)."""
    hidden = draws.gauss.shape[-1]
    w_rec = jax.lax.switch(
        k.family,
        (
            lambda e: draws.gauss,
            lambda e: draws.orth,
            lambda e: jnp.broadcast_to(_note3_matrix(hidden, e), (N_SLOTS, hidden, hidden)),
        ),
        k.eps,
    )
    if scaled:
        w_rec = _rec_scale(k) * w_rec
    b = jnp.zeros((N_SLOTS, hidden), jnp.float32)
    b = b.at[1].set(jnp.where(k.cell == _LSTM, k.forget_bias, 0.0))  # slot 1 is the LSTM forget gate
    return Params(
        w_rec=w_rec, w_in=k.input_scale * draws.w_in, b=b, w_out=draws.w_out, b_out=jnp.zeros((N_OUT,), jnp.float32)
    )


def _rec_scale(k: Knobs):
    return jnp.where(k.family == FAMILIES.index("note3"), jnp.float32(1.0), k.radius)


#: The (cell index, activation registry index) pairs a program is specialised for: the vanilla cell with each of
#: its activations, and the gated cells (whose nonlinearities are fixed).
_VARIANTS = tuple(
    [(CELLS.index("vanilla"), activations.index(a)) for a in RNN_ACTIVATIONS]
    + [(CELLS.index("lstm"), activations.index("tanh")), (CELLS.index("gru"), activations.index("tanh"))]
)


def _variant_index(cell: str, activation: str) -> int:
    act = activations.index(activation if cell == "vanilla" else "tanh")
    return _VARIANTS.index((CELLS.index(cell), act))


def _specialise(k: Knobs, fn):
    """fn(cell, act) -> result, called once per variant inside one ``lax.switch`` on the traced ``k.variant``.

    Measured (128 radii × T = 1000 × H = 64): a ``lax.switch`` on cell and activation inside every step costs about
    35 ms per sweep in conditional overhead (forward, recomputation and backward steps); hoisted here, it costs one
    conditional per call, and the compiled code size stays about the same (each cell's code appears once either
    way). Under ``vmap`` the variant index is unbatched, so this stays a real switch.
    """
    return jax.lax.switch(k.variant, [functools.partial(fn, cell, act) for cell, act in _VARIANTS])


def _settings(k: Knobs, cell: int, act: int, scaled: bool = False) -> CellSettings:
    """Cell settings for one variant; ``scaled`` says the parameters already include the radius (training)."""
    return CellSettings(
        cell=cell,
        act=act,
        note3=k.family == FAMILIES.index("note3"),
        c=k.c,
        rec_scale=jnp.float32(1.0) if scaled else _rec_scale(k),
    )
