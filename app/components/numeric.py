"""Turning engine arrays into what Bokeh can draw: non-finite values made explicit."""

from __future__ import annotations

import dataclasses

import numpy as np

#: Value that stands for "underflowed to 0" in a log10 image: below any colour-bar low, drawn in ``low_color``.
UNDERFLOW_SENTINEL = -1e30


@dataclasses.dataclass(frozen=True)
class NonFinite:
    overflow: int  # +inf or NaN (the gradient exploded past float32, or became undefined)
    underflow: int  # exactly 0 (vanished below float32's smallest number) -> log10 = -inf

    @property
    def total(self) -> int:
        return self.overflow + self.underflow


def log10_for_image(log_values: np.ndarray) -> tuple[np.ndarray, NonFinite, tuple[float, float]]:
    """float32 image for a log10 heatmap: overflow -> NaN (``nan_color``), underflow -> sentinel (``low_color``);
    also the finite range for the colour bar."""
    a = np.asarray(log_values, np.float32)
    over = np.isnan(a) | np.isposinf(a)
    under = np.isneginf(a)
    out = a.copy()
    out[over] = np.nan
    out[under] = UNDERFLOW_SENTINEL
    finite = a[np.isfinite(a)]
    rng = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if rng[1] - rng[0] < 1e-6:
        rng = (rng[0] - 0.5, rng[1] + 0.5)
    return out, NonFinite(int(over.sum()), int(under.sum())), rng


def safe_log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.asarray(values, np.float64))


def positive_or_nan(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values for a log axis with non-positive/non-finite as NaN, overflow mask, underflow mask)."""
    v = np.asarray(values, np.float64)
    over = ~np.isfinite(v)
    under = v == 0
    clean = np.where(over | under, np.nan, v)
    return clean, over, under
