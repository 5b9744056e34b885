"""``import vgp_core`` has no side effect on JAX's configuration; ``enable_compilation_cache`` is explicit."""

from __future__ import annotations

import json
import subprocess
import sys

SNAPSHOT = (
    "import json, jax; print(json.dumps({k: str(getattr(jax.config, k)) for k in "
    "('jax_compilation_cache_dir', 'jax_persistent_cache_min_compile_time_secs', "
    "'jax_persistent_cache_min_entry_size_bytes', 'jax_enable_x64', 'jax_platforms')}))"
)


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_vgp_core_leaves_jax_configuration_unchanged():
    before = run(SNAPSHOT)
    after = run("import vgp_core, vgp_core.mlp, vgp_core.rnn, vgp_core.theory\n" + SNAPSHOT)
    assert after == before


def test_enable_compilation_cache_sets_the_directory(tmp_path):
    cache = tmp_path / "jax-cache"
    after = run(f"import vgp_core; vgp_core.enable_compilation_cache({str(cache)!r})\n" + SNAPSHOT)
    assert after["jax_compilation_cache_dir"] == str(cache) and cache.is_dir()
    assert float(after["jax_persistent_cache_min_compile_time_secs"]) == 0.0
    off = run("import vgp_core; assert vgp_core.enable_compilation_cache('off') is None\n" + SNAPSHOT)
    assert off == run(SNAPSHOT)


def test_every_public_function_of_vgp_core_has_args_returns_and_references():
    """The docstring style of optax: every public function says what it takes, what it gives and where it comes
    from (a paper, section and equation, or the documentation of the API it wraps)."""
    import importlib
    import inspect
    import pkgutil

    import vgp_core

    missing = []
    for info in pkgutil.walk_packages(vgp_core.__path__, "vgp_core."):
        if info.name.endswith("__main__"):  # runs a command line when imported
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            fn = inspect.unwrap(obj) if hasattr(obj, "__wrapped__") else obj  # jax.jit keeps the function
            if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
                continue
            doc = inspect.getdoc(fn) or ""
            needed = ["Returns:", "References:"] + (["Args:"] if inspect.signature(fn).parameters else [])
            if gaps := [s for s in needed if s not in doc]:
                missing.append(f"{info.name}.{name}: {', '.join(gaps)}")
    assert missing == []
