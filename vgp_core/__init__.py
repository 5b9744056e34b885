"""vgp_core: the pure-JAX engine of vgp-explorer (no UI imports).

Modules: ``activations``, ``initializers``, ``theory`` (mean-field signal propagation), ``data`` (synthetic
tasks), ``mlp`` (deep feedforward nets), ``rnn``, ``doya``, ``cliff``, ``experiments``. Results are frozen
dataclasses of NumPy arrays.

Importing ``vgp_core`` changes nothing in JAX's configuration. Programs that start often (the app, its CLI, the
benchmarks) call :func:`enable_compilation_cache` once, so that a second process, a server worker or a container
finds its compiled code on disk.
"""

from __future__ import annotations

import os

from .errors import ConfigError

__all__ = ["ConfigError", "enable_compilation_cache"]
__version__ = "0.1.0"


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Switch on JAX's persistent compilation cache for every program, however small.

    Args:
      path: the cache directory. Default: ``$VGP_JAX_CACHE_DIR``, else ``~/.cache/vgp-explorer/jax``; ``"off"``
        (or ``"0"``, ``"none"``, ``""``) leaves JAX's configuration untouched.

    Returns:
      The directory in use, or None when the cache stays off (switched off, or the directory cannot be made, e.g.
      a read-only home: the program then runs without the cache rather than fail).

    References:
      JAX documentation, "Persistent compilation cache" (``jax_compilation_cache_dir``,
      ``jax_persistent_cache_min_compile_time_secs``, ``jax_persistent_cache_min_entry_size_bytes``).
    """
    import jax

    if path is None:
        path = os.environ.get(
            "VGP_JAX_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "vgp-explorer", "jax")
        )
    if path.lower() in ("off", "0", "none", ""):
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    # Small programs compile in well under a second: cache them too (JAX's default threshold is 1 s).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
