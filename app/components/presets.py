"""One-click presets: a row of buttons that set several parameters of a page model at once."""

from __future__ import annotations

import panel as pn
import param


def preset_bar(model: param.Parameterized, presets: dict[str, dict]) -> pn.layout.Panel:
    """Buttons labelled by preset name; a click applies the preset's values in one batched ``param.update``
    (views that watch several parameters recompute once)."""

    def apply(values):
        def click(_event):
            model.param.update(**values)

        return click

    buttons = []
    for label, values in presets.items():
        button = pn.widgets.Button(label=label, color="light", margin=(2, 4))
        button.on_click(apply(values))
        buttons.append(button)
    return pn.FlexBox(*buttons, margin=(0, 0, 8, 0))
