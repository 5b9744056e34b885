"""``python -m vgp_core.experiments.glorot2010``: the command line of :mod:`vgp_core.experiments.glorot2010`."""

import sys

from .cli import main

sys.exit(main())
