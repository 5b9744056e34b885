"""A page's explanatory text: Markdown paragraphs with formulas rendered by KaTeX (bundled with Panel, so it works
offline; Panel's Markdown math would need MathJax, which is not bundled)."""

from __future__ import annotations

import panel as pn


def explanation_panel(parts, width: int = 520) -> pn.Column:
    """``parts``: a sequence of ("md", markdown) and ("tex", LaTeX without delimiters) pairs, shown in order."""
    panes = [
        pn.pane.LaTeX(f"$${body}$$", renderer="katex", margin=(0, 10))
        if kind == "tex"
        else pn.pane.Markdown(body, disable_math=True, margin=(0, 10))
        for kind, body in parts
    ]
    return pn.Column(*panes, width=width)
