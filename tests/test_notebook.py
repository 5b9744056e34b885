"""The README's notebook promise: examples/notebook.ipynb runs in a real Jupyter kernel and a page object
displays itself as a live Panel/Bokeh view."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.threads import in_fresh_thread

ROOT = Path(__file__).resolve().parents[1]


def test_example_notebook_runs_and_displays_a_page(tmp_path):
    nb = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    # In a thread of its own: nbclient runs an asyncio loop (see tests/threads.py).
    in_fresh_thread(client.execute)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "chi_1 =" in text
    # The last cell's output is the page: Panel's notebook mimebundle with the Bokeh document of its figures.
    page_output = nb.cells[-2].outputs[-1]
    assert page_output.output_type == "execute_result"
    bundle = json.dumps(page_output.data)
    assert "application/vnd.holoviews_exec.v0+json" in page_output.data
    assert "Per-layer gradient norms" in bundle or "Per-layer gradient norms" in json.dumps(nb.cells[-2].outputs)
