"""``python -m vgp_core.experiments.trainability``: the command line of :mod:`vgp_core.experiments.trainability`."""

import sys

from .cli import main

sys.exit(main())
