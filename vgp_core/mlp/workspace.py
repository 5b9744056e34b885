"""A pool of activation buffers that the profile program reuses by donation instead of allocating them per call.

The forward pass keeps every layer's input and linear output in one buffer of shape
``engine.saved_shape(capacity, batch, width)`` (128 MiB at capacity 256, batch 256, width 256). Allocating and
zero-filling it anew on every call (fresh pages: memset and page faults) measured about a third of the profile's
CPU time on 2 cores. A program that donates the buffer (``jax.jit(donate_argnames=...)``) and returns it writes in
place, and the caller puts it back here for the next call.

Thread-safe: each buffer is handed to one caller at a time (the app computes profiles from several threads). The
pool keeps at most ``MAX_POOL_BYTES``; a buffer that does not fit is dropped (the next call allocates again).

References:
  JAX documentation, "Buffer donation" (``jax.jit``'s ``donate_argnums`` / ``donate_argnames``).
"""

from __future__ import annotations

import math
import threading

import jax
import jax.numpy as jnp

#: Bytes of idle buffers the pool keeps (two buffers of the largest default shape, 128 MiB each).
MAX_POOL_BYTES = 256 * 2**20

_lock = threading.Lock()
_idle: dict[tuple[int, ...], list[jax.Array]] = {}


def _nbytes(shape: tuple[int, ...]) -> int:
    return 4 * math.prod(shape)


def _idle_bytes() -> int:
    return sum(_nbytes(shape) * len(bufs) for shape, bufs in _idle.items())


def take(shape: tuple[int, ...]) -> jax.Array:
    """A float32 buffer of ``shape`` that no one else holds: an idle one, else a new zero-filled one.

    Args:
      shape: the buffer's shape.

    Returns:
      A float32 array of ``shape`` whose contents are unspecified (the caller must not read before writing).

    References:
      JAX documentation, "Buffer donation" (``donate_argnums`` / ``donate_argnames``).
    """
    with _lock:
        bufs = _idle.get(shape)
        if bufs:
            return bufs.pop()
    return jnp.zeros(shape, jnp.float32)


def give(buf: jax.Array) -> None:
    """Return ``buf`` (taken with :func:`take`, or the donated result of a program) for a later :func:`take`.

    Older idle buffers of other shapes are dropped first when the pool would exceed ``MAX_POOL_BYTES``.

    Args:
      buf: a float32 buffer no caller uses any more.

    Returns:
      None.

    References:
      JAX documentation, "Buffer donation" (``donate_argnums`` / ``donate_argnames``).
    """
    shape = tuple(buf.shape)
    if _nbytes(shape) > MAX_POOL_BYTES:
        return
    with _lock:
        for other in list(_idle):
            if _idle_bytes() + _nbytes(shape) <= MAX_POOL_BYTES:
                break
            if other != shape:
                del _idle[other]
        if _idle_bytes() + _nbytes(shape) <= MAX_POOL_BYTES:
            _idle.setdefault(shape, []).append(buf)


def clear() -> None:
    """Drop every idle buffer (frees their memory once no program uses them).

    Returns:
      None.

    References:
      JAX documentation, "Buffer donation" (``donate_argnums`` / ``donate_argnames``).
    """
    with _lock:
        _idle.clear()
