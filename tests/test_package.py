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
