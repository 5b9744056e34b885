"""Measuring the remedies the same way: the per-layer gradient at initialization and after training, the
training loss, held-out accuracy and wall time, the input-gradient ratio to the baseline and its verdict against the
literature's prediction; the whole lab, its ranking and the warm-up of its programs.

References:
  Poole et al. (2016), NeurIPS, and Schoenholz et al. (2017), ICLR (χ₁, the per-layer gradient factor);
  Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Sec. 2 (the LSTM entry's recurrent Jacobian norms).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import numpy as np

from ... import initializers, mlp, theory
from ...errors import ConfigError
from .config import LabConfig, RecurrentComparison, RemedyResult
from .registry import CHUNK, FLAT_DECADES, LEVEL_DECADES, N_CLASSES, REMEDIES, Remedy, remedy
from .veit import veit_analysis


def _chi_1(cfg: mlp.MLPConfig) -> float:
    """Mean-field chi_1 of ``cfg``'s hidden layers where theory applies (zero-mean i.i.d. weights, no batch norm,
    no residuals), else NaN."""
    if cfg.batchnorm or cfg.residual or not initializers.get(cfg.init).mean_field:
        return float("nan")
    sw2 = initializers.sigma_w2(cfg.init, cfg.width, cfg.width, cfg.gain)
    return float(theory.chi_1(cfg.activation, sw2, cfg.bias_std**2))


def _log10_ratio(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(np.float64(a)) - np.log10(np.float64(b)))


def _direction(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "raise" if ratio == np.inf else ("lower" if ratio == -np.inf else "flat")
    if ratio >= FLAT_DECADES:
        return "raise"
    if ratio <= -FLAT_DECADES:
        return "lower"
    return "flat"


def _judge(r: Remedy, ratio: float, spread: float) -> bool:
    """Does the measured change agree with ``r.expected``? (Rules in the module docstring.)"""
    direction = _direction(ratio)
    level = bool(np.isfinite(spread) and abs(spread) <= LEVEL_DECADES)
    if r.expected == "raise":
        return direction == "raise"
    if r.expected == "level":
        return direction == "raise" and level
    if r.expected == "none":
        return bool(spread < -LEVEL_DECADES)  # still vanishing (NaN compares False)
    raise AssertionError(r.expected)


def _pow(x: float) -> str:
    if np.isfinite(x):
        return f"10^{x:+.1f}"
    return "∞ (float32 overflow)" if x > 0 else "0 (float32 underflow)" if x < 0 else "undefined (0/0)"


def _verdict(r: Remedy, ratio: float, spread: float, chi: float, matches: bool) -> str:
    direction = _direction(ratio)
    moved = {
        "raise": f"raises the input-layer gradient {_pow(ratio)}×",
        "lower": f"lowers the input-layer gradient {_pow(ratio)}×",
        "flat": f"leaves the input-layer gradient where it was ({_pow(ratio)}×)",
    }[direction]
    if np.isfinite(spread) and abs(spread) <= LEVEL_DECADES:
        profile = f"the profile is level (first/last layer {_pow(spread)})"
    else:
        profile = f"the gradient still changes {_pow(spread)}× from the last to the first layer"
    chi_txt = f", chi_1 = {chi:.2g}" if np.isfinite(chi) else ""
    if r.expected == "none":
        if matches:
            cure = "does NOT fix the vanishing gradient here"
            why = {
                "kumar": f" (mean-field chi_1 = {chi:.2f} < 1), as mean-field theory predicts",
                "clipping": " (clipping only shortens long update steps; it cannot lengthen short ones), "
                "as Pascanu et al. 2013 say",
                "rprop": " (it acts on the update, not on the gradient: each weight still moves by its step "
                "size), as predicted",
            }.get(r.name, ", as predicted")
            return f"{moved[0].upper() + moved[1:]}, but {cure}{why}: {profile}."
        return (
            f"{moved[0].upper() + moved[1:]} and {profile}{chi_txt}: NOT what the literature predicts "
            f"(expected no cure)."
        )
    want = {"raise": "a higher input-layer gradient", "level": "a level profile"}[r.expected]
    if matches:
        return f"{moved[0].upper() + moved[1:]}; {profile}{chi_txt}. As predicted ({want})."
    return f"{moved[0].upper() + moved[1:]}; {profile}{chi_txt}. NOT as predicted ({want}) in this setting."


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _baseline_input_grad(config: LabConfig) -> float:
    cfg = config.mlp_config()
    return float(mlp.params_profile(cfg, mlp.init_params(cfg)).backprop_norm[0])


def _mlp_run(r: Remedy, config: LabConfig, cfg: mlp.MLPConfig, params0=None):
    """(profile at the start, trace, profile after training, held-out (loss, accuracy)) of one gradient run."""
    lr = config.rprop_step if r.optimizer == "rprop" else config.learning_rate
    clip = config.clip_norm if r.name == "clipping" else None
    if params0 is None:
        params0 = mlp.init_params(cfg)
    prof0 = mlp.params_profile(cfg, params0)
    trace, params = mlp.train_with_params(
        cfg,
        config.steps,
        optimizer=r.optimizer,
        learning_rate=lr,
        clip_norm=clip,
        chunk=CHUNK,
        params=params0,
        jacobians=False,
    )
    prof1 = mlp.params_profile(cfg, params)
    return prof0, trace, prof1, mlp.probe_accuracy(cfg, params)


def _recurrent_comparison(config: LabConfig) -> RecurrentComparison:
    from ... import rnn

    base = rnn.RNNConfig(
        hidden_size=LSTM_HIDDEN, T=config.depth, spectral_radius=1.0, activation="sigmoid", seed=config.seed
    )
    vanilla = rnn.jacobian_norms(base.replace(cell="vanilla"))
    lstm = rnn.jacobian_norms(base.replace(cell="lstm"))
    return RecurrentComparison(vanilla.lag, lstm.log10_norm, vanilla.log10_norm, LSTM_HIDDEN, 1.0)


#: Hidden size of the LSTM entry's recurrent nets (as on the Recurrent page's default).
LSTM_HIDDEN = 32


def run_remedy(name: str, config: LabConfig = LabConfig(), baseline: RemedyResult | None = None) -> RemedyResult:
    """Measure one lab entry on ``config`` (see the module docstring for what is measured and how it is judged).

    Args:
      name: the entry.
      config: the lab's shared settings.
      baseline: the baseline's result on the same config, for the ratios; without it the baseline's input-layer
        gradient at initialization is measured here (cheap) and ``trained_input_grad_ratio`` is NaN.

    Returns:
      A :class:`RemedyResult`.

    References:
      The entry's own source (``remedy(name).source``), e.g. Pascanu et al. (2013), arXiv:1211.5063, Algorithm 1 for
      clipping; He et al. (2016), "Deep residual learning for image recognition", CVPR, Eq. 1 for residuals.
    """
    r = remedy(name)
    if not isinstance(config, LabConfig):
        raise ConfigError(f"config must be a LabConfig, got {type(config).__name__}")
    t0 = time.perf_counter()
    depth = config.depth
    layers = np.arange(1, depth + 1)
    cfg = config.mlp_config(**dict(r.changes))
    chi = _chi_1(cfg) if r.kind == "mlp" else float("nan")  # pre-trained / evolved weights are not i.i.d.

    if r.kind == "lstm":
        rec = _recurrent_comparison(config)
        gap = float(rec.log10_lstm[-1] - rec.log10_vanilla[-1])
        matches = bool(gap >= FLAT_DECADES)
        verdict = (
            f"Recurrent case (see the Recurrent page): over T = {depth} steps the LSTM's cell-state Jacobian "
            f"norm is {_pow(float(rec.log10_lstm[-1]))} vs {_pow(float(rec.log10_vanilla[-1]))} for a vanilla "
            f"sigmoid RNN (spectral radius 1), {_pow(gap)}× more gradient"
            + (", as Hochreiter & Schmidhuber predict." if matches else ": NOT the predicted advantage here.")
        )
        return RemedyResult(
            r.name,
            r.label,
            layers,
            _nan(depth),
            _nan(depth),
            _nan(config.steps),
            float("nan"),
            float("nan"),
            float("nan"),
            "flat",
            matches,
            verdict,
            time.perf_counter() - t0,
            notes="Not a feed-forward run: the per-layer arrays are NaN; the measurement is in `recurrent` "
            "(vgp_core.rnn.jacobian_norms). Train the LSTM on memory tasks on the Recurrent page.",
            group=r.group,
            expected=r.expected,
            link=r.link,
            recurrent=rec,
        )

    notes = ""
    if r.kind == "mlp":
        prof0, trace, prof1, (loss, acc) = _mlp_run(r, config, cfg)
        loss_curve = trace.loss
        if r.name == "clipping":
            notes = f"clipped on {int(np.sum(trace.clipped))} of {config.steps} steps (threshold {config.clip_norm:g})"
    elif r.kind == "pretraining":
        from ... import pretraining

        pcfg = pretraining.PretrainConfig(
            updates=config.pretrain_updates, learning_rate=config.pretrain_learning_rate, seed=config.seed
        )
        params0, ptrace = pretraining.pretrain(cfg, pcfg)
        prof0, trace, prof1, (loss, acc) = _mlp_run(r, config, cfg, params0)
        loss_curve = trace.loss
        notes = (
            f"{depth} RBMs × {config.pretrain_updates} CD-1 updates; reconstruction error of layer 1 "
            f"{ptrace.error_before[0]:.3g} → {ptrace.error_after[0]:.3g}, of layer {depth} "
            f"{ptrace.error_before[-1]:.3g} → {ptrace.error_after[-1]:.3g}; then {config.steps} SGD steps."
        )
    elif r.kind == "evolution":
        from ... import evolution

        ecfg = evolution.ESConfig(
            generations=config.steps,
            pairs=config.es_pairs,
            sigma=config.es_sigma,
            learning_rate=config.es_learning_rate,
            seed=config.seed,
            batch_size=config.es_batch_size,
        )
        params0 = mlp.init_params(cfg)
        prof0 = mlp.params_profile(cfg, params0)
        etrace, params = evolution.evolve(cfg, ecfg, params0)
        prof1 = mlp.params_profile(cfg, params)
        loss, acc = mlp.probe_accuracy(cfg, params)
        loss_curve = etrace.loss
        notes = (
            f"{config.steps} generations × {2 * config.es_pairs} loss evaluations (forward passes only); "
            "the gradient columns are measured on the weights it found but never used by it."
        )
    else:  # pragma: no cover - registry kinds are fixed above
        raise AssertionError(r.kind)

    g0, g1 = np.asarray(prof0.backprop_norm, np.float64), np.asarray(prof1.backprop_norm, np.float64)
    base_g0 = (
        float(baseline.grad_init[0])
        if baseline is not None
        else (float(g0[0]) if r.name == "baseline" else _baseline_input_grad(config))
    )
    ratio = 0.0 if r.name == "baseline" else _log10_ratio(g0[0], base_g0)
    trained_ratio = (
        0.0
        if r.name == "baseline"
        else _log10_ratio(g1[0], baseline.grad_trained[0])
        if baseline is not None
        else float("nan")
    )
    spread = _log10_ratio(g0[0], g0[-1])
    if r.name == "baseline":
        matches = True
        verdict = f"The reference: the gradient changes {_pow(spread)}× from the last to the first layer" + (
            f" (mean-field chi_1 = {chi:.2g} per layer)." if np.isfinite(chi) else "."
        )
    elif r.kind == "evolution":
        start, end = (
            float(np.mean(loss_curve[: max(1, len(loss_curve) // 10)])),
            float(np.mean(loss_curve[-max(1, len(loss_curve) // 10) :])),
        )
        matches = bool(end < start)
        verdict = (
            f"Uses no gradient, so none can vanish: the training loss went {start:.3f} → {end:.3f} in "
            f"{config.steps} generations (chance level ln {N_CLASSES} = {math.log(N_CLASSES):.3f}; held-out "
            f"accuracy {acc:.0%})" + ("." if matches else ": NOT lower in this setting.")
        )
    else:
        matches = _judge(r, ratio, spread)
        verdict = _verdict(r, ratio, spread, chi, matches)
    return RemedyResult(
        r.name,
        r.label,
        layers,
        g0,
        g1,
        np.asarray(loss_curve, np.float64),
        float(loss),
        float(acc),
        ratio,
        _direction(ratio) if r.kind != "evolution" else "flat",
        matches,
        verdict,
        time.perf_counter() - t0,
        notes,
        group=r.group,
        expected=r.expected,
        trained_input_grad_ratio=trained_ratio,
        spread=spread,
        chi_1=chi,
        link=r.link,
    )


def run_lab_iter(config: LabConfig = LabConfig(), names: Sequence[str] | None = None) -> Iterator[RemedyResult]:
    """The baseline first, then one result per requested remedy as it finishes.

    In the order given, duplicates and "baseline" skipped; all entries when ``names`` is None. Unknown names raise
    ConfigError before any run.

    Args:
      config: the lab's shared settings.
      names: the remedies to run (None: all).

    Returns:
      An iterator of :class:`RemedyResult`.

    References:
      Wikipedia, "Vanishing gradient problem", section "Solutions".
    """
    wanted = [remedy(n).name for n in (names if names is not None else [r.name for r in REMEDIES])]
    base = run_remedy("baseline", config)
    yield base
    seen = {"baseline"}
    for n in wanted:
        if n in seen:
            continue
        seen.add(n)
        yield run_remedy(n, config, base)


def run_lab(config: LabConfig = LabConfig(), names: Sequence[str] | None = None) -> list[RemedyResult]:
    """All results of :func:`run_lab_iter` as a list.

    Args:
      config: the lab's shared settings.
      names: the remedies to run (None: all).

    Returns:
      A list of :class:`RemedyResult`, baseline first.

    References:
      Wikipedia, "Vanishing gradient problem", section "Solutions".
    """
    return list(run_lab_iter(config, names))


def rank(results: Sequence[RemedyResult]) -> list[RemedyResult]:
    """Results ordered best first.

    By held-out loss after training (lower is better, rounded to 3 decimals so that differences below the probe
    batch's noise do not decide), ties by the input-layer gradient ratio (higher first); entries without a loss (the
    LSTM link) come last in their given order.

    Args:
      results: lab results.

    Returns:
      A new list, best first.

    References:
      None beyond this module's docstring (the lab's criteria).
    """

    def key(item):
        i, r = item
        missing = not np.isfinite(r.final_loss)
        return (
            missing,
            round(r.final_loss, 3) if not missing else 0.0,
            -r.input_grad_ratio if np.isfinite(r.input_grad_ratio) else 0.0,
            i,
        )

    return [r for _, r in sorted(enumerate(results), key=key)]


def warm_up(config: LabConfig = LabConfig()) -> None:
    """Compile every program the lab uses for ``config``'s shapes (width, batch).

    The deep-net training chunk for SGD and Rprop, the profiles, pre-training, the evolution strategy, the LSTM
    comparison and the Veit expansion, by running every entry for one chunk. Depth, steps and every other setting are
    traced, so later runs with the same width and batch size compile nothing.

    Args:
      config: the lab's shared settings (its width and batch size fix the shapes).

    Returns:
      None.

    References:
      JAX documentation, "Just-in-time compilation".
    """
    small = config.replace(steps=CHUNK, pretrain_updates=1)
    for _ in run_lab_iter(small):
        pass
    veit_analysis(small)
