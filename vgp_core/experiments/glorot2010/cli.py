"""The command line: ``python -m vgp_core.experiments.glorot2010 --updates N --out DIR`` writes
``DIR/results.json``.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from collections.abc import Sequence

from ...errors import ConfigError
from .config import ACTIVATIONS, INIT_ALIASES, Glorot2010Config
from .driver import run


def _parser() -> argparse.ArgumentParser:
    d = Glorot2010Config()
    p = argparse.ArgumentParser(
        prog="python -m vgp_core.experiments.glorot2010",
        description="Reproduce Glorot & Bengio (2010) on Shapeset-3x2; writes DIR/results.json.",
    )
    p.add_argument("--updates", type=int, required=True, help="SGD updates per final run (the budget)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--activations", nargs="+", default=list(d.activations), choices=ACTIVATIONS)
    p.add_argument("--inits", nargs="+", default=["standard", "normalized"], choices=sorted(INIT_ALIASES))
    p.add_argument("--lr-grid", nargs="+", type=float, default=list(d.lr_grid))
    p.add_argument(
        "--lr-search-updates",
        type=int,
        default=None,
        help="updates per learning rate in the search (default: the full budget, best run kept)",
    )
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--depth", type=int, default=d.depth)
    p.add_argument("--checkpoints", type=int, default=d.checkpoints)
    p.add_argument("--validation-size", type=int, default=d.validation_size)
    p.add_argument("--test-size", type=int, default=d.test_size)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The command line of the reproduction: parse ``argv``, run, write the JSON results.

    Args:
      argv: the arguments (None: ``sys.argv[1:]``); ``--help`` lists them.

    Returns:
      The process's exit status (0 on success).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = Glorot2010Config(
            updates=args.updates,
            depth=args.depth,
            width=args.width,
            seed=args.seed,
            activations=tuple(args.activations),
            inits=tuple(args.inits),
            lr_grid=tuple(args.lr_grid),
            lr_search_updates=args.lr_search_updates,
            checkpoints=args.checkpoints,
            validation_size=args.validation_size,
            test_size=args.test_size,
        )
    except ConfigError as e:
        parser.error(str(e))
    command = "python -m vgp_core.experiments.glorot2010 " + shlex.join(argv)
    print(command, flush=True)
    result = run(config, progress=lambda s: print(s, flush=True), command=command)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    doc = result.to_dict()
    doc["meta"]["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with open(path, "w") as f:
        json.dump(doc, f, allow_nan=False)
    print(f"wrote {path} ({result.wall_time_s:.0f} s)")
    for row in result.table():
        paper = "—" if row["paper_test_error_pct"] is None else f"{row['paper_test_error_pct']:.2f}"
        print(
            f"{row['label']:12s} lr={row['learning_rate']:<6g} test error {row['test_error_pct']:6.2f} %  "
            f"(paper {paper} %)"
        )
    return 0
