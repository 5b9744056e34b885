"""vgp_core.compilations: the counter sees a new program's compilation and no compilation for a cached one."""

import jax
import jax.numpy as jnp
import numpy as np

from vgp_core.compilations import compile_durations, count_compilations


def test_counts_a_compilation_then_none_for_the_same_program():
    program = jax.jit(lambda x: jnp.cumsum(x * 3.0) - 1.0)
    x = np.arange(37, dtype=np.float32)  # a shape no other test compiles this program for
    with count_compilations() as first:
        program(x).block_until_ready()
    with count_compilations() as again:
        program(x + 1.0).block_until_ready()
    assert len(first) >= 1 and all(d >= 0.0 for d in first)
    assert again == []
    assert compile_durations()[-len(first) :] == first  # the block's entries are the process-wide list's newest
