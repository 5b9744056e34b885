"""The README's notebook promise: examples/notebook.ipynb runs in a real Jupyter kernel and a page object
displays itself as a live Panel/Bokeh view."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def test_example_notebook_runs_and_displays_a_page(tmp_path):
    nb = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    # In a thread of its own: nbclient runs an asyncio loop, and after the Playwright tests (sync API) the main
    # thread already has a running one ("Cannot run the event loop while another loop is running").
    failure: list[BaseException] = []

    def execute() -> None:
        try:
            client.execute()
        except BaseException as exc:  # noqa: BLE001  (re-raised in the test's thread)
            failure.append(exc)

    worker = threading.Thread(target=execute)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
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
