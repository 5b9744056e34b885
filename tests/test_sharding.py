"""vgp_core.sharding: a sweep split across devices gives what one device gives, padding dropped."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

from vgp_core import sharding

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@jax.jit
@jax.vmap
def _program(value):
    return jnp.stack([value, value * value, jnp.sin(value)])


def _direct(values):
    return np.stack([values, values * values, np.sin(values)], axis=1)


def test_one_device_passes_the_values_through():
    values = np.linspace(0.0, 2.0, 5, dtype=np.float32)
    out = sharding.sweep_over_devices(lambda v: _program(v), (), values, ())
    np.testing.assert_allclose(out, _direct(values), rtol=1e-6)  # float32 sin


def test_three_devices_pad_shard_and_trim():
    code = textwrap.dedent(
        """
        import os, json
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=3"
        import jax, jax.numpy as jnp, numpy as np
        from vgp_core import sharding
        assert len(jax.devices()) == 3, jax.devices()
        program = jax.jit(jax.vmap(lambda a, v, b: jnp.stack([a * v, v * v + b]), in_axes=(None, 0, None)))
        values = np.linspace(0.0, 2.0, 7, dtype=np.float32)  # 7 values padded to 9
        out = sharding.sweep_over_devices(program, (np.float32(2.0),), values, (np.float32(1.0),))
        print(json.dumps(out.tolist()))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    got = np.array(json.loads(run.stdout.strip().splitlines()[-1]))
    values = np.linspace(0.0, 2.0, 7, dtype=np.float32).astype(np.float64)
    np.testing.assert_allclose(got, np.stack([2 * values, values * values + 1], axis=1), rtol=1e-6)
