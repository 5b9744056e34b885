"""After warm-up, moving any control of the deep-network page must not compile (measured on a 2-core machine: 20
settings of a static argument cost 20 compiles, 23 s in all; one program with traced integers, 0.36 s)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vgp_core import activations, initializers, mlp, theory

GAINS = np.linspace(0.1, 4.0, 64)
FAST_OPTIMIZERS = ("sgd", "adam")


def test_zero_compilations_while_every_control_moves(compile_counter):
    base = mlp.MLPConfig(depth=10, width=32, batch_size=32, input_dim=16)
    # Two optimizers keep this fast-suite test short (each optimizer is a training program per capacity bucket); every
    # optimizer, clipping off and on, is covered through the app's own warm-up by the slow test below.
    mlp.warm_up(widths=(32,), batch_size=32, input_dim=16, gains=GAINS, optimizers=FAST_OPTIMIZERS)
    theory.critical_gain("tanh", "standard", 32, 32)
    moves = (
        [dict(depth=d) for d in (1, 2, 7, 63, 64, 65, 128, 200, 256)]
        + [dict(activation=a) for a in activations.names()]
        + [dict(init=i) for i in initializers.names()]
        + [dict(gain=g) for g in (0.1, 1, 1.0, 2.5, 4)]  # 1 (an int) must not trace a second version
        + [dict(bias_std=b) for b in (0, 0.3)]
        + [dict(residual=True), dict(residual=True, batchnorm=True), dict(batchnorm=True)]
    )
    with compile_counter() as compiles:
        cfg = base
        for move in moves:
            cfg = cfg.replace(**move)
            mlp.gradient_profile(cfg, with_jacobian=True)
            mlp.gradient_profile(cfg, with_jacobian=False)
            mlp.gain_sweep(cfg, GAINS)
            theory.critical_gain(cfg.activation, cfg.init, cfg.width, cfg.width, cfg.bias_std**2)
        # each warmed optimizer, with and without clipping, in both capacity buckets (an int learning rate too)
        for opt in FAST_OPTIMIZERS:
            for depth, lr, clip in ((30, 0.01, None), (100, 1, 1.0), (30, 0.001, 5)):
                next(mlp.train_iter(cfg.replace(depth=depth), 30, optimizer=opt, learning_rate=lr, clip_norm=clip))
    assert compiles == [], f"{len(compiles)} compilations after warm-up"


@pytest.mark.slow
def test_the_apps_warm_up_covers_training_with_every_optimizer_and_clipping(compile_counter):
    """The Deep page trains with every optimizer, clipping off and on, and the Recurrent page's Train button with
    clipping off and on, compiling nothing once the app's own warm-up steps for them have run (the Deep page at
    its default width: the other optimizers are warmed there; at other widths they compile on first use)."""
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage
    from app.pages.recurrent import RecurrentPage
    from app.warmup import warmup_steps

    width = DeepNetworkModel.param.width.default
    for step in warmup_steps(widths=(width,)):
        deep_default = step.page == "deep" and f"width {width}," in step.what
        if deep_default or step.what == "recurrent network training, default settings":
            step.run()
    deep = DeepNetworkPage(query={"steps": "10"})  # the page's own programs (theory, draws)
    deep.settle()
    recurrent = RecurrentPage(query={"train_steps": "50"})
    with compile_counter() as compiles:
        for optimizer in mlp.OPTIMIZERS:
            for clip_norm in (0.0, 1.0):
                deep.model.param.update(optimizer=optimizer, clip_norm=clip_norm)
                deep.settle()
                assert deep.notices.text == "", (optimizer, clip_norm, deep.notices.text)
        for clip_norm in (0.0, 1.0):
            recurrent.model.clip_norm = clip_norm
            recurrent.train()
            recurrent.settle()
            assert recurrent.notices.text == "", (clip_norm, recurrent.notices.text)
    assert compiles == [], f"{len(compiles)} compilations after the app's warm-up"


def test_sharded_sweep_matches_unsharded():
    """gain_sweep shards its gain axis over 8 forced CPU devices and gives the single-device result."""
    code = textwrap.dedent("""
        import os, sys, json
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
        os.environ["VGP_JAX_CACHE_DIR"] = "off"
        import jax, numpy as np
        from vgp_core import mlp
        assert len(jax.devices()) == 8, jax.devices()
        cfg = mlp.MLPConfig(depth=12, width=32, batch_size=16, activation="tanh", init="standard")
        out = mlp.gain_sweep(cfg, np.linspace(0.5, 3.0, 13))  # 13 gains: padded to 16 over 8 devices
        print(json.dumps(out.log10_backprop_norm.tolist()))
    """)
    sharded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert sharded.returncode == 0, sharded.stderr
    got = np.array(__import__("json").loads(sharded.stdout.strip().splitlines()[-1]))
    cfg = mlp.MLPConfig(depth=12, width=32, batch_size=16, activation="tanh", init="standard")
    want = mlp.gain_sweep(cfg, np.linspace(0.5, 3.0, 13)).log10_backprop_norm
    # same float32 program split across devices: identical up to reduction order
    np.testing.assert_allclose(got, want, atol=1e-5)
