"""vgp_core: the pure-JAX engine of vgp-explorer (no UI imports).

Modules: ``activations``, ``initializers``, ``theory`` (mean-field signal propagation), ``data`` (synthetic
tasks), ``mlp`` (deep feedforward nets). Results are frozen dataclasses of NumPy arrays.

On import, JAX's persistent compilation cache is switched on (directory ``$VGP_JAX_CACHE_DIR``, default
``~/.cache/vgp-explorer/jax``) so that a second process, a server worker or a container finds its compiled code on
disk. Set ``VGP_JAX_CACHE_DIR=off`` to leave JAX's configuration untouched.
"""
from __future__ import annotations

import os

import jax


def _enable_compilation_cache() -> None:
    path = os.environ.get("VGP_JAX_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "vgp-explorer", "jax"))
    if path.lower() in ("off", "0", "none", ""):
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home: run without the cache rather than fail
        return
    jax.config.update("jax_compilation_cache_dir", path)
    # Small programs compile in well under a second, cache them too (JAX's default threshold is 1 s).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_enable_compilation_cache()

from .errors import ConfigError  # noqa: E402

__all__ = ["ConfigError"]
__version__ = "0.1.0"
