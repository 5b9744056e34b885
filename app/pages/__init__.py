"""One module per page: its ``param.Parameterized`` model and its views. ``PAGES`` lists them in menu order."""
from __future__ import annotations

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class PageSpec:
    slug: str  # URL value of ?page=
    title: str
    build: Callable[[], object]  # returns an object with a ``.panel()`` layout (and ``.model``)


def _deep():
    from .deep import DeepNetworkPage

    return DeepNetworkPage()


def _recurrent():
    from .recurrent import RecurrentPage

    return RecurrentPage()


def _bifurcation():
    from .bifurcation import BifurcationPage

    return BifurcationPage()


def _cliff():
    from .cliff import LossCliffPage

    return LossCliffPage()


PAGES = (PageSpec("deep", "Deep network", _deep), PageSpec("recurrent", "Recurrent network", _recurrent),
         PageSpec("bifurcation", "Bifurcation", _bifurcation), PageSpec("cliff", "Loss cliff", _cliff))
