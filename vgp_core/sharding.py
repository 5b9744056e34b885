"""One vmapped program evaluated for many values of a swept scalar (a gain, a spectral radius), the swept axis
sharded over every visible device and the other arguments replicated.

References:
  JAX documentation, "Distributed arrays and automatic parallelization" (``jax.sharding.Mesh``,
  ``NamedSharding``, ``PartitionSpec``; a jitted program follows the shardings of its inputs).
"""

from __future__ import annotations

import functools

import jax
import numpy as np


@functools.lru_cache(maxsize=4)
def _shardings(devices: tuple) -> tuple[jax.sharding.NamedSharding, jax.sharding.NamedSharding]:
    mesh = jax.sharding.Mesh(np.asarray(devices), ("sweep",))
    return (
        jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("sweep")),
        jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()),
    )


def sweep_over_devices(program, args: tuple, values: np.ndarray, rest: tuple) -> np.ndarray:
    """``program(*args, values, *rest)`` with the leading axis of ``values`` split across all visible devices.

    Args:
      program: a jitted, vmapped function of ``(*args, values, *rest)`` whose output has the swept axis first.
      args: the arguments before the swept one (replicated on every device).
      values: (n, ...) the swept values. With several devices it is padded to a multiple of their number by
        repeating its last value (a real value: padding with zeros or NaN could take a slower path of the program);
        with one device it is passed as it is.
      rest: the arguments after the swept one (replicated).

    Returns:
      The program's output as a NumPy array, its first n rows (the padding dropped).

    References:
      JAX documentation, "Distributed arrays and automatic parallelization".
    """
    values = np.asarray(values)
    n = values.shape[0]
    devices = tuple(jax.devices())
    if len(devices) > 1:
        values = np.concatenate([values, np.repeat(values[-1:], (-n) % len(devices), axis=0)])
        swept, replicated = _shardings(devices)
        args, rest = jax.device_put((args, rest), replicated)
        values = jax.device_put(values, swept)
    return np.asarray(program(*args, values, *rest))[:n]
