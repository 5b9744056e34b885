"""The command line: ``python -m vgp_core.experiments.trainability --out DIR`` writes ``DIR/results.json``.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Sec. 5.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shlex
import sys
from collections.abc import Sequence

from ...errors import ConfigError
from .committed import boundary_agreement
from .config import TrainabilityConfig
from .grid import _device_name, run


def _parser() -> argparse.ArgumentParser:
    d = TrainabilityConfig()
    p = argparse.ArgumentParser(
        prog="python -m vgp_core.experiments.trainability",
        description="Schoenholz et al. (2017) trainability phase diagram on the 8x8 digits; writes DIR/results.json.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--budget", type=int, default=d.steps, help="SGD steps per network")
    p.add_argument("--sigma-w2", nargs="+", type=float, default=list(d.sigma_w2))
    p.add_argument("--depths", nargs="+", type=int, default=list(d.depths))
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--chunk", type=int, default=d.chunk)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--batching",
        choices=("auto", "vmap", "map"),
        default="auto",
        help="the nets of a depth as one jax.vmap or a lax.map loop (auto: vmap except on the CPU)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: run the grid and write ``--out``/results.json (see ``--help``).

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      The exit status, 0 (argparse exits with 2 on bad arguments or an invalid configuration).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = TrainabilityConfig(
            sigma_w2=tuple(args.sigma_w2),
            depths=tuple(args.depths),
            width=args.width,
            steps=args.budget,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            chunk=args.chunk,
            seed=args.seed,
        )
    except ConfigError as e:
        parser.error(str(e))
    command = "python -m vgp_core.experiments.trainability " + shlex.join(argv)
    print(command, flush=True)
    print(f"{len(config.sigma_w2)} × {len(config.depths)} nets on {_device_name()}", flush=True)
    vectorize = {"auto": None, "vmap": True, "map": False}[args.batching]
    result = run(config, progress=not args.no_progress, command=command, vectorize=vectorize)
    result = dataclasses.replace(result, date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(result.to_json())
    os.replace(tmp, path)
    agree = boundary_agreement(result)
    print(
        f"wrote {path} ({result.wall_time_s:.0f} s, {result.nets_per_second:.2f} nets/s); trainable cells inside "
        f"6 xi_c: {agree.inside_trainable}/{agree.inside_trainable + agree.outside_trainable}, cells inside that "
        f"trained: {agree.inside_trainable}/{agree.inside_total}"
    )
    return 0
