"""Figure export: ``vgp export`` (PNG with checked dimensions, SVG that parses, standalone HTML that opens in
Chromium and draws), its errors, ``--set`` reaching the exported data, the export module's care for live figures,
the download buttons' widget, and ``page.settle``.

PNG/SVG export and the HTML check need Debian's chromium (+ chromedriver): without them these tests skip
locally and FAIL when CI=true."""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from bokeh.document import Document

from app import cli
from app.components import export
from app.pages import PAGES, page_spec
from tests.threads import in_fresh_thread

ROOT = Path(__file__).resolve().parents[1]
SVG_NS = "{http://www.w3.org/2000/svg}"
# Flags for Debian's Chromium under Playwright (as in tests/browser/conftest.py).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


# --------------------------------------------------------------------------------------------------- helpers
def require_browser() -> None:
    """Chromium + chromedriver, or skip (locally) / fail (CI=true)."""
    try:
        export.find_browser()
    except export.BrowserUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser export tests must run in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def browser_export():
    require_browser()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def embedded_sources(html: str) -> list[dict[str, np.ndarray]]:
    """The columns of every ColumnDataSource in a standalone HTML file's embedded document."""
    match = re.search(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', html, re.S)
    assert match, "no embedded Bokeh document"
    sources: list[dict[str, np.ndarray]] = []

    def decode(value):
        if isinstance(value, dict) and value.get("type") == "ndarray":
            array = value["array"]
            if isinstance(array, dict) and array.get("type") == "bytes":
                raw = base64.b64decode(array["data"])
                if raw[:2] == b"\x1f\x8b":  # Bokeh gzips larger arrays
                    raw = gzip.decompress(raw)
                return np.frombuffer(raw, dtype=value["dtype"]).reshape(value["shape"])
            return np.asarray(array, dtype=value["dtype"]).reshape(value["shape"])
        if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
            return np.asarray(value, dtype=float)
        return None

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == "ColumnDataSource":
                data = node.get("attributes", {}).get("data", {})
                columns = {}
                for key, value in data.get("entries", []) if isinstance(data, dict) else []:
                    arr = decode(value)
                    if arr is not None:
                        columns[key] = arr
                sources.append(columns)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(match.group(1)))
    return sources


def source_with(html: str, column: str) -> dict[str, np.ndarray]:
    """The one embedded data source that has ``column``."""
    found = [s for s in embedded_sources(html) if column in s]
    assert len(found) == 1, [list(s) for s in embedded_sources(html)]
    return found[0]


def open_in_chromium(path: Path) -> dict:
    """Open an HTML file in Debian's Chromium (Playwright); what it logged, requested and drew."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    chromium, _ = export.find_browser()
    result = {"console": [], "requests": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})
            page.on("console", lambda m: result["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: result["console"].append(("error", str(e))))
            page.on("request", lambda r: result["requests"].append(r.url))
            page.goto(path.as_uri())
            page.wait_for_function(
                "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle", timeout=60_000
            )
            result["canvases"] = page.locator("canvas").count()
            result["title"] = page.title()
            shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
            pixels = np.asarray(shot)
            result["dark_fraction"] = float((pixels < 128).mean())  # axes, text and curves drawn
        finally:
            browser.close()
    return result


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``vgp`` as a user runs it: a new process (``python -m app.cli`` — the ``vgp`` script calls the same
    ``main``)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, **(env or {})),
    )


def cli_main(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------------------------------- the CLI
@pytest.mark.slow
def test_cli_writes_valid_png_svg_and_html(tmp_path, capsys, browser_export):
    """The must-show test: PNG with the figure's size × scale, SVG that parses, HTML that renders in Chromium."""
    # PNG through the real command line (a new process, exit status and the path on stdout).
    png = tmp_path / "gradient.png"
    t0 = time.perf_counter()
    proc = run_cli("export", "cliff", "gradient", "--scale", "1.5", "-o", str(png))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(png)
    assert png_size(png.read_bytes()) == (780, 495)  # the 520×330 figure at scale 1.5, exactly
    print(f"\nCLI PNG in a new process: {time.perf_counter() - t0:.1f} s")

    # Default scale 2, and --width/--height (the figure is re-laid out at that size, not stretched).
    status, out, err = cli_main(capsys, "export", "cliff", "gradient", "-o", str(tmp_path / "g2.png"))
    assert status == 0, err
    assert png_size((tmp_path / "g2.png").read_bytes()) == (1040, 660)
    status, out, err = cli_main(
        capsys,
        "export",
        "cliff",
        "surface",
        "--width",
        "400",
        "--height",
        "300",
        "--scale",
        "1",
        "-o",
        str(tmp_path / "s.png"),
    )
    assert status == 0, err
    assert png_size((tmp_path / "s.png").read_bytes()) == (400, 300)

    # SVG: parses, is an <svg> of the figure's size, and holds the drawing (vector paths and text).
    svg = tmp_path / "surface.svg"
    status, out, err = cli_main(capsys, "export", "cliff", "surface", "-o", str(svg))
    assert status == 0, err
    assert out.strip() == str(svg)
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert (root.get("width"), root.get("height")) == ("520", "330")
    assert len(root.findall(f".//{SVG_NS}path")) > 10
    assert len(root.findall(f".//{SVG_NS}image")) >= 1  # the heatmap, embedded as an image
    texts = "".join(t.text or "" for t in root.iter(f"{SVG_NS}text"))
    assert "E(w, b)" in texts or "Pascanu" in texts, texts[:200]

    # HTML: opens in Chromium offline, draws, no console error, no request leaves the file.
    html = tmp_path / "loss-curve.html"
    status, out, err = cli_main(capsys, "export", "cliff", "loss-curve", "-o", str(html))
    assert status == 0, err
    seen = in_fresh_thread(open_in_chromium, html)  # its own Playwright loop (tests/threads.py)
    assert [t for kind, t in seen["console"] if kind == "error"] == []
    assert [u for u in seen["requests"] if not u.startswith(("file://", "data:", "blob:"))] == []
    assert seen["canvases"] >= 1
    assert seen["dark_fraction"] > 0.002, seen  # something was drawn (blank white would be 0)
    assert "loss-curve" in seen["title"]


@pytest.mark.slow
def test_set_values_reach_the_exported_data(tmp_path, capsys):
    """``--set depth=5`` exports a 5-layer profile, ``depth=7`` a 7-layer one (the HTML's embedded data);
    ``steps`` reaches the training run that settle() waited for."""
    profiles = {}
    for depth in (5, 7):
        out_path = tmp_path / f"d{depth}.html"
        status, _, err = cli_main(
            capsys,
            "export",
            "deep",
            "gradient-profile",
            "--set",
            f"depth={depth}",
            "--set",
            "steps=10",
            "--set",
            "activation=sigmoid",
            "-o",
            str(out_path),
        )
        assert status == 0, err
        profiles[depth] = source_with(out_path.read_text(), "backprop")
    for depth, profile in profiles.items():
        np.testing.assert_array_equal(profile["x"], np.arange(1, depth + 1))  # one point per layer
        assert profile["backprop"].shape == (depth,)
        assert np.all(np.isfinite(profile["backprop"])) and np.all(profile["backprop"] > 0)
        # sigmoid with the default init: the gradient shrinks toward the input layer.
        assert profile["backprop"][0] < profile["backprop"][-1]

    loss = tmp_path / "loss.html"
    status, _, err = cli_main(
        capsys, "export", "deep", "loss", "--set", "depth=5", "--set", "steps=10", "-o", str(loss)
    )
    assert status == 0, err
    assert source_with(loss.read_text(), "loss")["loss"].shape == (10,)  # the whole run that settle() awaited


def test_list_prints_every_page_figure_pair(capsys):
    status, out, err = cli_main(capsys, "export", "--list")
    assert status == 0, err
    pairs = [tuple(line.split(" ")) for line in out.splitlines()]
    assert all(len(p) == 2 for p in pairs), out
    expected = [(spec.slug, name) for spec in PAGES for name in spec.build(query={}).figures()]
    assert pairs == expected
    assert {slug for slug, _ in pairs} == {spec.slug for spec in PAGES}
    assert {"deep", "recurrent", "bifurcation", "cliff", "glorot", "remedies", "edge-of-chaos"} <= {s for s, _ in pairs}
    assert ("deep", "gradient-profile") in pairs and ("cliff", "surface") in pairs
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for _, name in pairs)  # kebab-case names


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "nope", "x", "-o", "a.png"], "unknown page 'nope'; pages: deep, recurrent, bifurcation, cliff"),
        (["export", "cliff", "nope", "-o", "a.png"], "has no figure 'nope'; figures: loss-curve, gradient, surface"),
        (["export", "cliff", "surface", "--set", "wibble=1", "-o", "a.png"], "has no parameter 'wibble'; parameters:"),
        (["export", "cliff", "surface", "--set", "learning_rate=7", "-o", "a.png"], "learning_rate='7': choose one of"),
        (["export", "cliff", "surface", "--set", "descent_steps=99999", "-o", "a.png"], "out of range"),
        (["export", "cliff", "surface", "--set", "descent_steps=ten", "-o", "a.png"], "not a number"),
        (["export", "cliff", "surface", "--set", "descent_steps", "-o", "a.png"], "expected NAME=VALUE"),
        (["export", "cliff", "surface", "-o", "a.jpg"], "must end in .png, .svg, .html"),
        (["export", "cliff", "surface"], "-o FILE is required"),
        (["export", "cliff", "-o", "a.png"], "PAGE and FIGURE are required"),
        (["export", "cliff", "surface", "-o", "a.svg", "--scale", "2"], "--scale applies to PNG only"),
        (["export", "cliff", "surface", "-o", "a.png", "--scale", "0"], "--scale must be between"),
        (["export", "cliff", "surface", "-o", "a.png", "--width", "5"], "--width must be between"),
        (["export", "cliff", "surface", "-o", "/no/such/dir/a.png"], "does not exist"),
        (["export", "--list", "cliff"], "--list takes no other arguments"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = cli_main(capsys, *args)
    assert status == 2
    assert message in err, err
    assert out == ""
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_arguments_in_a_new_process():
    proc = run_cli("export", "cliff", "nope", "-o", "a.png")
    assert proc.returncode == 2
    assert "figures: loss-curve" in proc.stderr and proc.stdout == ""
    proc = run_cli()
    assert proc.returncode == 2 and "export" in proc.stderr  # no command: the usage
    proc = run_cli("export", "--bogus-flag")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_missing_chromium_is_a_clear_error_and_html_still_works(tmp_path):
    env = {"VGP_CHROMIUM": "/nonexistent/chromium", "VGP_CHROMEDRIVER": "/nonexistent/chromedriver"}
    proc = run_cli("export", "cliff", "gradient", "-o", str(tmp_path / "g.png"), env=env)
    assert proc.returncode == 1
    assert "need Chromium and chromedriver" in proc.stderr and "apt-get install chromium chromium-driver" in (
        proc.stderr
    )
    assert not (tmp_path / "g.png").exists()
    proc = run_cli("export", "cliff", "gradient", "-o", str(tmp_path / "g.html"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g.html").read_text().startswith("<!DOCTYPE html>")


def test_output_that_is_a_directory_exits_1_with_one_line(tmp_path):
    """``-o DIR``: one line naming it on stderr, status 1, before the page is built or anything written."""
    target = tmp_path / "figure.html"
    target.mkdir()
    proc = run_cli("export", "cliff", "gradient", "-o", str(target))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"vgp export: error: cannot write {str(target)!r}: it is a directory"]
    assert [p.name for p in tmp_path.iterdir()] == ["figure.html"] and not list(target.iterdir())


def test_unwritable_output_exits_1_with_one_line(tmp_path, capsys):
    """A path nobody can write (its parent is a regular file; a read-only directory would not stop root, which CI
    runs as): one line naming it, status 1, nothing left behind."""
    parent = tmp_path / "file.txt"
    parent.write_text("not a directory")
    target = parent / "x.html"
    status, out, err = cli_main(capsys, "export", "cliff", "gradient", "-o", str(target))
    assert status == 1 and out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"vgp export: error: cannot write {str(target)!r}: "), err
    assert parent.read_text() == "not a directory" and [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    """The output passes the up-front check but cannot be written when the figure is ready (here it became a
    directory while rendering): one line, status 1, and the temporary file next to it is removed."""
    target = tmp_path / "late.html"
    render = export.render

    def render_then_block(*args, **kwargs):
        data = render(*args, **kwargs)
        (target / "inside").mkdir(parents=True)  # os.replace cannot replace a non-empty directory
        return data

    monkeypatch.setattr(export, "render", render_then_block)
    status, out, err = cli_main(capsys, "export", "cliff", "gradient", "-o", str(target))
    assert status == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"vgp export: error: cannot write {str(target)!r}: "), err
    assert [p.name for p in tmp_path.iterdir()] == ["late.html"]  # the directory, and no .late.html.*.tmp
    assert [p.name for p in target.iterdir()] == ["inside"]


def test_pyproject_installs_the_vgp_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["vgp"] == "app.cli:main"
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "app*" in include  # app.cli must be importable from the installed script


# --------------------------------------------------------------------------------------------------- the module
def test_export_leaves_a_live_figure_untouched(browser_export):
    """Exports work on a copy: a figure shown in a session's document gets no change event, keeps its size and
    toolbar, and stays in its document, even with a size override."""
    page = page_spec("cliff").build(query={})
    doc = Document()
    doc.add_root(page.panel().get_root(doc))  # as a session shows it
    fig = page.figures()["surface"]
    assert fig.document is doc
    before = (fig.width, fig.height, fig.toolbar_location, fig.document)
    events = []
    doc.on_change(lambda event: events.append(event))
    png = export.figure_png(fig, 1.0, width=300, height=200)
    svg = export.figure_svg(fig)
    html = export.figure_html(fig, "t")
    assert png_size(png) == (300, 200)
    assert ET.fromstring(svg).tag == f"{SVG_NS}svg"
    assert "<!DOCTYPE html>" in html and "toolbar" in html
    assert events == []
    assert (fig.width, fig.height, fig.toolbar_location, fig.document) == before
    assert all(m.document is doc for m in fig.references())


def test_html_is_self_contained():
    fig = page_spec("cliff").build(query={}).figures()["gradient"]
    html = export.figure_html(fig, "gradient")
    assert "<title>gradient</title>" in html
    assert "static/extensions" not in html  # Panel's ESM shim is not needed by a figure
    assert not re.search(r"<(script|link)[^>]*(src|href)=", html)  # every script and style inline


def _parent(proc: Path) -> int | None:
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:  # the process ended meanwhile
        return None
    return None


def test_a_dead_browser_is_replaced(browser_export):
    fig = page_spec("cliff").build(query={}).figures()["gradient"]
    png_size(export.figure_png(fig, 1.0))
    starts = export._BROWSER.starts
    # Chromium crashes (its processes killed under chromedriver) ...
    driver_pid = export._BROWSER._driver.service.process.pid
    children = [int(t.name) for t in Path("/proc").iterdir() if t.name.isdigit() and _parent(t) == driver_pid]
    assert children  # chromium, started by chromedriver
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    assert png_size(export.figure_png(fig, 1.0)) == (520, 330)
    assert export._BROWSER.starts == starts + 1
    # ... or chromedriver itself is gone.
    export._BROWSER._driver.quit()
    assert png_size(export.figure_png(fig, 1.0)) == (520, 330)
    assert export._BROWSER.starts == starts + 2


def test_unknown_format_and_bad_scale():
    fig = page_spec("cliff").build(query={}).figures()["gradient"]
    with pytest.raises(export.ExportError, match="unknown format 'gif'"):
        export.render(fig, "gif")
    with pytest.raises(export.ExportError, match="scale must be between"):
        export.figure_png(fig, 50)


def test_figure_cards_have_download_buttons_named_after_page_and_figure():
    starts = export._BROWSER.starts
    page = page_spec("cliff").build(query={})
    buttons = page.panel().select(export.ExportDownload)
    expected = [f"cliff-{name}.{fmt}" for name in page.figures() for fmt in ("png", "svg", "html")]
    assert [b.filename for b in buttons] == expected
    assert [b.label for b in buttons[:3]] == ["PNG", "SVG", "HTML"]
    assert export._BROWSER.starts == starts  # building a page starts no browser


def test_download_button_produces_the_file_and_reports_failures(browser_export, monkeypatch):
    fig = page_spec("cliff").build(query={}).figures()["gradient"]
    button = export.ExportDownload(fig, "png", "cliff-gradient")
    in_fresh_thread(asyncio.run, button._async_sync_data())  # a loop of its own (tests/threads.py)
    assert button.data.startswith("data:image/png;base64,")
    assert png_size(base64.b64decode(button.data.split(",", 1)[1])) == (1040, 660)
    assert button.filename == "cliff-gradient.png" and not button.loading

    export.close_browser()
    monkeypatch.setenv("VGP_CHROMEDRIVER", "/nonexistent/chromedriver")
    failing = export.ExportDownload(fig, "svg", "cliff-gradient")
    # no exception: reported as a notification (server) and a log line
    in_fresh_thread(asyncio.run, failing._async_sync_data())
    assert failing.data is None and not failing.loading
    monkeypatch.delenv("VGP_CHROMEDRIVER")


# --------------------------------------------------------------------------------------------------- settle
@pytest.mark.slow
def test_settle_finishes_training_and_deferred_views():
    deep = page_spec("deep").build(query={"depth": "4", "steps": "20"})
    deep.settle(300)
    assert deep._runner.idle
    assert len(deep.loss_source.data["loss"]) == 20

    bif = page_spec("bifurcation").page_class()(query={}, defer=True)
    assert bif.pending  # the sensitivity map waits
    sens = bif.figures()["sensitivity-map"]
    bif.settle(300)
    assert bif.pending == [] and bif._map is not None
    image = [r for r in sens.renderers if r.glyph.__class__.__name__ == "Image"][0]
    assert np.asarray(image.data_source.data["image"][0]).size > 1

    slow = page_spec("deep").build(query={"depth": "4", "steps": "2000"})
    with pytest.raises(TimeoutError, match="still running"):
        slow.settle(0.01)
    slow._runner.cancel()
    assert slow._runner.wait(300)
