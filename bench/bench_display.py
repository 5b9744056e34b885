"""Server-side cost of re-styling a whole page for each display toggle (presentation mode, theme, palette, colour
map): `app.components.presentation.apply_display` over every figure of the default Deep network page.

Run: ``python bench/bench_display.py [--repeats N]``. Prints the median and the worst time per toggle (ms); a toggle
is part of a move's budget (100 ms p50 in the browser), so its server share should stay a few milliseconds.
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (makes `app` importable from a checkout, enables the compilation cache)
import numpy as np

from app.components.presentation import DisplaySettings, apply_display
from app.pages.deep import DeepNetworkModel, DeepNetworkPage

TOGGLES = (
    ("present", True),
    ("theme", "dark"),
    ("palette", "okabe-ito"),
    ("colormap", "cividis"),
    ("present", False),
    ("theme", "light"),
    ("palette", "default"),
    ("colormap", "viridis"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    page = DeepNetworkPage(DeepNetworkModel(auto_train=False), query={})
    figures = page.figures()
    settings = DisplaySettings()
    apply_display(figures, settings)
    times: dict[str, list[float]] = {f"{name}={value}": [] for name, value in TOGGLES}
    for _ in range(args.repeats):
        for name, value in TOGGLES:
            setattr(settings, name, value)
            t0 = time.perf_counter()
            apply_display(figures, settings)
            times[f"{name}={value}"].append(1e3 * (time.perf_counter() - t0))
    print(f"apply_display over {len(figures)} figures of the Deep network page, {args.repeats} repeats")
    for key, values in times.items():
        print(f"  {key:<22s} median {np.median(values):6.1f} ms   max {np.max(values):6.1f} ms")


if __name__ == "__main__":
    main()
