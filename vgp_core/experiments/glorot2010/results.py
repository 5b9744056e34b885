"""The reproduction's frozen results (histograms, snapshots, one run, one combination, the whole protocol)
and their JSON round trip (``to_dict`` / ``from_dict``).

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Figs. 2-9 and Table 1 (what each result holds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform

import numpy as np

from ...errors import ConfigError
from .config import Glorot2010Config, _init_name


@dataclasses.dataclass(frozen=True)
class Histograms:
    """Normalized histograms, one per hidden layer (Glorot & Bengio 2010, Fig. 6–8): ``fraction[i, k]`` is the
    fraction of layer i+1's values that fall in bin k (values outside ``edges`` are not counted)."""

    edges: np.ndarray  # (bins + 1,)
    fraction: np.ndarray  # (depth, bins)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The network at initialization or after training, seen on the probe set."""

    updates: int
    activations: Histograms  # z^i
    backprop_gradients: Histograms  # ∂C/∂s^i, per example
    weight_gradients: Histograms  # ∂C/∂W^i on one minibatch
    jacobian_sv_mean: np.ndarray  # (depth,) mean singular value of ∂z^i/∂z^{i-1}


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Training of one (activation, init, learning rate). Arrays (n_checkpoints, depth) have row k measured on the
    probe set after ``checkpoint_updates[k]`` updates (row 0: at initialization); column i is hidden layer i+1."""

    activation: str
    init: str
    learning_rate: float
    updates: int
    checkpoint_updates: np.ndarray  # (C,)
    act_mean: np.ndarray  # Fig. 2
    act_std: np.ndarray  # Fig. 2–3
    act_p2: np.ndarray  # Fig. 3 (2nd percentile)
    act_p98: np.ndarray  # Fig. 3 (98th percentile)
    act_saturated: np.ndarray  # fraction of units with |f'(s)| < 0.1 sup|f'|
    backprop_var: np.ndarray  # Var[∂C/∂s^i] (Eq. 13, Fig. 7)
    weight_grad_var: np.ndarray  # Var[∂C/∂W^i] (Eq. 14, Fig. 9)
    probe_nll: np.ndarray  # (C,)
    probe_error: np.ndarray  # (C,)
    train_nll: np.ndarray  # (C,) mean minibatch NLL over the updates since the previous checkpoint (NaN at 0)
    initial: Snapshot
    final: Snapshot
    validation_error: float
    validation_nll: float
    test_error: float
    test_nll: float
    diverged: bool
    wall_time_s: float


@dataclasses.dataclass(frozen=True)
class CombinationResult:
    """One (activation, init): the learning-rate search and the run trained with the chosen rate."""

    activation: str
    init: str
    lr_grid: np.ndarray  # (k,)
    lr_validation_error: np.ndarray  # (k,) after ``lr_search_updates`` updates (1.0 when training diverged)
    lr_validation_nll: np.ndarray  # (k,) mean NLL on the validation set (NaN when training diverged)
    lr_search_updates: int
    run: RunResult
    paper_test_error: float | None  # %, Table 1 (None: no such row)

    @property
    def label(self) -> str:
        """The paper's row name, e.g. "Tanh N"."""
        return self.activation.capitalize() + (" N" if self.init == "glorot_uniform" else "")


@dataclasses.dataclass(frozen=True)
class Glorot2010Result:
    config: Glorot2010Config
    combinations: tuple  # of CombinationResult
    wall_time_s: float
    jax_version: str
    command: str | None = None

    def get(self, activation: str, init: str) -> CombinationResult:
        init = _init_name(init)
        for c in self.combinations:
            if (c.activation, c.init) == (activation, init):
                return c
        raise ConfigError(f"no result for activation={activation!r}, init={init!r}")

    def table(self) -> list[dict]:
        """Rows of our test error beside the paper's Table 1 (Shapeset-3x2 column), in %."""
        return [
            {
                "label": c.label,
                "activation": c.activation,
                "init": c.init,
                "learning_rate": c.run.learning_rate,
                "updates": c.run.updates,
                "test_error_pct": 100.0 * c.run.test_error,
                "paper_test_error_pct": c.paper_test_error,
            }
            for c in self.combinations
        ]

    def to_dict(self) -> dict:
        d = _jsonable(self)
        d["table"] = _jsonable(self.table())
        d["meta"] = {
            "budget_updates": self.config.updates,
            "seed": self.config.seed,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        }
        return d

    def to_json(self, indent: int | None = None) -> str:
        """JSON text (NaN and ±inf become null); :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Glorot2010Result:
        return _from_dict(cls, json.loads(text))


def _jsonable(obj):
    if dataclasses.is_dataclass(obj):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    return obj


_NESTED = {
    "config": Glorot2010Config,
    "combinations": CombinationResult,
    "run": RunResult,
    "initial": Snapshot,
    "final": Snapshot,
    "activations": Histograms,
    "backprop_gradients": Histograms,
    "weight_gradients": Histograms,
}


def _from_dict(cls, d: dict):
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        sub = _NESTED.get(f.name)
        if cls is Glorot2010Config:
            v = tuple(v) if isinstance(v, list) else v
        elif f.name == "combinations":
            v = tuple(_from_dict(CombinationResult, c) for c in v)
        elif sub is not None and isinstance(v, dict):
            v = _from_dict(sub, v)
        elif "np.ndarray" in str(f.type):
            v = np.asarray([np.nan if e is None else e for e in np.ravel(np.asarray(v, object))], float).reshape(
                np.shape(np.asarray(v, object))
            )
            if f.name == "checkpoint_updates":
                v = v.astype(np.int64)
        elif v is None and "float" in str(f.type) and "None" not in str(f.type):
            v = float("nan")
        kwargs[f.name] = v
    return cls(**kwargs)
