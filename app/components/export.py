"""Export one figure as PNG, SVG or a standalone interactive HTML file — for the download buttons under every
figure and for the ``vgp export`` command. (About 500 lines, one idea: the snapshot, the three formats and the one
browser they share.)

Every export works on a **copy** of the figure: ``snapshot`` serialises the live figure (read only, quick; in a
server call it on the document's thread, where the models are changed) and ``restore`` rebuilds an independent
copy from it (any thread). The copy may then be resized or stripped of its toolbar without a live session ever
seeing a change, and it is never attached to the session's document.

- HTML: ``bokeh.embed.file_html`` with INLINE resources — BokehJS is inside the file, so it opens offline and
  needs no browser to produce.
- PNG and SVG: BokehJS draws the copy (toolbar removed) in headless Chromium — Debian's ``chromium`` +
  ``chromedriver``, driven by Selenium, as ``bokeh.io.export_png/export_svg`` do — and the picture is read back:
  PNG as the DevTools screenshot of the figure's box at a device scale factor of ``scale`` (a 520×330 figure at
  scale 2 is exactly 1040×660 pixels, drawn at that resolution, not enlarged); SVG from BokehJS's own SVG export
  (``view.export("svg")``, what ``export_svg`` runs). One browser serves the whole process: started on the first
  PNG/SVG export, used by one export at a time (a lock), replaced when it has died, closed after
  ``VGP_EXPORT_IDLE_S`` seconds without an export (default 300) and at exit. It keeps one page with BokehJS
  loaded and swaps the figure in it, instead of parsing 1.3 MB of BokehJS per figure. It runs with
  ``--no-sandbox`` (Chromium's sandbox does not start as root or in most containers — what ``BOKEH_IN_DOCKER=1``
  does for Bokeh's own exporters; it only opens the page this module wrote and figures serialised here) and
  cannot resolve any host name, so an export never reaches the network.

Chromium is found as ``$VGP_CHROMIUM`` or ``chromium`` / ``chromium-browser`` on the PATH, chromedriver as
``$VGP_CHROMEDRIVER``, ``$BOKEH_CHROMEDRIVER_PATH`` or ``chromedriver`` on the PATH; without them PNG/SVG export
raises ``BrowserUnavailable`` (HTML still works).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import concurrent.futures
import dataclasses
import functools
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import panel as pn
from bokeh.core.serialization import Deserializer, Serialized, Serializer
from bokeh.embed import file_html, json_item
from bokeh.models import Model
from bokeh.resources import Resources

log = logging.getLogger(__name__)

FORMATS = ("png", "svg", "html")
#: the PNG scale of the download buttons (2: sharp on slides and high-density screens).
DEFAULT_SCALE = 2.0
MAX_SCALE = 8.0
#: refuse pictures larger than this many pixels (a mistyped --scale or --width would exhaust memory).
MAX_PIXELS = 64_000_000
RENDER_TIMEOUT_S = 60.0
IDLE_CLOSE_S = float(os.environ.get("VGP_EXPORT_IDLE_S", "300"))
#: viewport used for figures without a fixed size.
DEFAULT_VIEWPORT = (1200, 800)

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline by construction: no host name resolves
)

#: Export work in a server: rendering runs here, off the event loop (two workers, so an HTML export does not
#: wait behind a PNG; the browser itself is used by one export at a time).
EXPORT_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="vgp-export")


class _SelfContained(Resources):
    """BokehJS inline, and nothing else. Bokeh adds the external scripts of *every* model class imported in the
    process (``__javascript__``), used or not; with Panel imported that is a relative link to Panel's ESM shim,
    which a saved file cannot load. A figure needs only BokehJS's own bundles, which inline mode embeds."""

    def _collect_external_resources(self, resource_attr):
        return []

    def clone(self, *, components=None):  # file_html clones the resources to pick the bundles a figure needs
        return _SelfContained(mode=self.mode, components=list(self.components) if components is None else components)


INLINE = _SelfContained(mode="inline")


class ExportError(RuntimeError):
    """An export that could not be made; the message says why (shown to the user as is)."""


class BrowserUnavailable(ExportError):
    """Chromium or chromedriver is missing (PNG and SVG need them; HTML does not)."""


# --------------------------------------------------------------------------------------------------- the copy
@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A figure serialised at one moment (what BokehJS would receive), independent of the live models."""

    content: Serialized
    title: str


def snapshot(fig: Model) -> Snapshot:
    """Serialise ``fig`` with everything it references. Reads the models only: in a server, call it on the
    document's thread (the event loop), where every change to them is made."""
    title = getattr(getattr(fig, "title", None), "text", None) or ""
    return Snapshot(Serializer(deferred=False).serialize(fig), title)


def restore(snap: Snapshot) -> Model:
    """A new, independent copy of the snapshot's figure (in no document; safe to change from any thread)."""
    return Deserializer().deserialize(snap.content)


def _copy(fig: Model | Snapshot) -> Model:
    copy = restore(fig if isinstance(fig, Snapshot) else snapshot(fig))
    # the site stretches figures to the window's width (page_layout.stretch); a file has the figure's own size
    if getattr(copy, "sizing_mode", None) == "stretch_width" and getattr(copy, "width", None):
        copy.sizing_mode = "fixed"
    return copy


def _sized(copy: Model, width: int | None, height: int | None) -> Model:
    if width is not None or height is not None:
        if not (hasattr(copy, "width") and hasattr(copy, "height")):
            raise ExportError(f"a {type(copy).__name__} has no width or height to set")
        for value, what in ((width, "width"), (height, "height")):
            if value is not None and not 10 <= value <= 10_000:
                raise ExportError(f"{what} must be between 10 and 10000 pixels, not {value}")
        copy.sizing_mode = "fixed"
        if width is not None:
            copy.width = int(width)
        if height is not None:
            copy.height = int(height)
    return copy


def _static(copy: Model) -> Model:
    """A picture needs no toolbar (its buttons only work in the interactive figure)."""
    if hasattr(copy, "toolbar_location"):
        copy.toolbar_location = None
    return copy


# --------------------------------------------------------------------------------------------------- formats
def figure_html(
    fig: Model | Snapshot, title: str | None = None, *, width: int | None = None, height: int | None = None
) -> str:
    """A standalone HTML page with the interactive figure (BokehJS inline: opens offline, no server)."""
    copy = _sized(_copy(fig), width, height)
    if title is None:
        title = fig.title if isinstance(fig, Snapshot) else getattr(getattr(fig, "title", None), "text", "")
    return file_html(copy, resources=INLINE, title=title or "vgp-explorer figure")


def figure_png(
    fig: Model | Snapshot, scale: float = DEFAULT_SCALE, *, width: int | None = None, height: int | None = None
) -> bytes:
    """The figure as PNG, ``scale`` device pixels per CSS pixel (size = figure size × scale)."""
    scale = float(scale)
    if not 0.1 <= scale <= MAX_SCALE:
        raise ExportError(f"scale must be between 0.1 and {MAX_SCALE:g}, not {scale:g}")
    return _render(_static(_sized(_copy(fig), width, height)), "png", scale)


def figure_svg(fig: Model | Snapshot, *, width: int | None = None, height: int | None = None) -> str:
    """The figure as an SVG document (vector lines and text; heatmaps stay embedded raster images)."""
    return _render(_static(_sized(_copy(fig), width, height)), "svg", 1.0)


def render(
    fig: Model | Snapshot,
    fmt: str,
    *,
    title: str | None = None,
    scale: float = DEFAULT_SCALE,
    width: int | None = None,
    height: int | None = None,
) -> bytes:
    """The file contents for ``fmt`` (one of ``FORMATS``)."""
    if fmt == "png":
        return figure_png(fig, scale, width=width, height=height)
    if fmt == "svg":
        return figure_svg(fig, width=width, height=height).encode("utf-8")
    if fmt == "html":
        return figure_html(fig, title, width=width, height=height).encode("utf-8")
    raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


# --------------------------------------------------------------------------------------------------- browser
# The export browser keeps one page with every BokehJS bundle loaded (loading a 1.3 MB page per figure took
# 0.5–0.9 s more per export here, under load); each export replaces the previous figure in it
# (``Bokeh.embed.embed_item``) and waits until BokehJS reports the document idle (drawn), as bokeh.io.export
# does. The page is reloaded every HOST_RELOAD_EVERY exports and after any failure, so nothing accumulates.
HOST_RELOAD_EVERY = 100
_HOST_ID = "vgp-export-target"
_HOST_READY_JS = 'return typeof Bokeh !== "undefined" && Bokeh.embed != null && window.vgpExportHost === true'
_EMBED_JS = """
const [item_json, fmt, done] = arguments
;(async () => {
  for (const view of [...Bokeh.index.roots]) { view.remove(); Bokeh.index.delete(view) }
  Bokeh.documents.splice(0, Bokeh.documents.length)
  document.body.innerHTML = '<div id="%s"></div>'
  const item = JSON.parse(item_json)
  await Bokeh.embed.embed_item(item, "%s")
  const doc = Bokeh.documents[Bokeh.documents.length - 1]
  if (!doc.is_idle) { await new Promise((resolve) => doc.idle.connect(() => resolve())) }
  const view = [...Bokeh.index.roots].find((v) => v.model.id == item.root_id)
  if (fmt == "svg") {
    const {ctx} = view.export("svg")
    return {svg: ctx.get_serialized_svg(true)}
  }
  const r = view.el.getBoundingClientRect()
  return {box: [r.left, r.top, r.width, r.height]}
})().then((result) => done(result), (error) => done({error: String((error && error.stack) || error)}))
""" % (_HOST_ID, _HOST_ID)


def _host_html() -> str:
    """The export browser's page: every BokehJS bundle inline, white, no margins, nothing else."""
    resources = _SelfContained(
        mode="inline", components=["bokeh", "bokeh-gl", "bokeh-widgets", "bokeh-tables", "bokeh-mathjax"]
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>vgp export</title><style>'
        "html, body { box-sizing: border-box; margin: 0; border: 0; padding: 0; overflow: hidden; "
        "background: white; }</style>" + resources.render_js() + "<script>window.vgpExportHost = true"
        "</script></head><body></body></html>"
    )


def _render(copy: Model, fmt: str, scale: float) -> bytes | str:
    """Draw ``copy`` in the export browser; PNG bytes or SVG text."""
    w, h = getattr(copy, "width", None), getattr(copy, "height", None)
    if getattr(copy, "sizing_mode", None) not in (None, "fixed"):
        w = h = None
    vw, vh = (int(w) if w else DEFAULT_VIEWPORT[0]), (int(h) if h else DEFAULT_VIEWPORT[1])
    if vw * vh * scale * scale > MAX_PIXELS:
        raise ExportError(f"a {vw}×{vh} picture at scale {scale:g} would have more than {MAX_PIXELS:,} pixels")
    item = json.dumps(json_item(copy, _HOST_ID))  # before taking the browser
    return _BROWSER.run(lambda driver: _draw(driver, item, fmt, vw, vh, scale))


def _draw(driver, item: str, fmt: str, vw: int, vh: int, scale: float) -> bytes | str:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": vw, "height": vh, "deviceScaleFactor": scale, "mobile": False}
    )
    _BROWSER.ensure_host(driver)
    try:
        result = driver.execute_async_script(_EMBED_JS, item, fmt)
    except Exception as exc:
        _BROWSER.host_stale()
        if type(exc).__name__ == "TimeoutException":
            raise ExportError(
                f"BokehJS did not finish drawing the figure within {RENDER_TIMEOUT_S:g} s" + _console_errors(driver)
            ) from None
        raise
    _BROWSER.renders += 1
    if not isinstance(result, dict) or "error" in result:
        _BROWSER.host_stale()
        detail = result.get("error") if isinstance(result, dict) else repr(result)
        raise ExportError(f"BokehJS could not draw the figure: {detail}{_console_errors(driver)}")
    errors = _console_errors(driver)
    if errors:
        log.warning("export: the browser reported errors%s", errors)
    if fmt == "svg":
        return result["svg"]
    left, top, width, height = result["box"]
    if width <= 0 or height <= 0:
        raise ExportError("the figure has no size in the browser" + errors)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "fromSurface": True,
            "clip": {"x": left, "y": top, "width": width, "height": height, "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])


def _console_errors(driver) -> str:
    try:
        entries = driver.get_log("browser")
    except Exception:  # noqa: BLE001 - a driver without logs: nothing to add
        return ""
    messages = [e.get("message", "") for e in entries if e.get("level") == "SEVERE"]
    return ("; browser console: " + " | ".join(messages)) if messages else ""


def find_browser() -> tuple[str, str]:
    """(chromium, chromedriver) paths; ``BrowserUnavailable`` naming what is missing otherwise."""
    chromium = os.environ.get("VGP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = (
        os.environ.get("VGP_CHROMEDRIVER") or os.environ.get("BOKEH_CHROMEDRIVER_PATH") or shutil.which("chromedriver")
    )
    missing = [
        name
        for name, path in (("chromium", chromium), ("chromedriver", driver))
        if not path or not os.access(path, os.X_OK)
    ]
    if missing:
        raise BrowserUnavailable(
            f"PNG and SVG export need Chromium and chromedriver, and {' and '.join(missing)} could not be found "
            "(Debian: apt-get install chromium chromium-driver; or set VGP_CHROMIUM / VGP_CHROMEDRIVER). "
            "HTML export needs no browser."
        )
    return chromium, driver


class _Browser:
    """The process's one headless Chromium: lazily started, used by one export at a time, restarted once when
    it has died, closed when idle and at exit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._driver = None
        self._workdir: str | None = None
        self._timer: threading.Timer | None = None
        self._last_use = 0.0
        self.starts = 0  # how many browsers this process has started (tests read it)
        self.renders = 0  # figures drawn in the current host page
        self._host_path: str | None = None
        self._host_loaded = False

    def workdir(self) -> str:
        if self._workdir is None or not os.path.isdir(self._workdir):
            self._workdir = tempfile.mkdtemp(prefix="vgp-export-")
        return self._workdir

    def ensure_host(self, driver) -> None:
        """Load the host page (BokehJS) if it is not loaded, or has drawn HOST_RELOAD_EVERY figures."""
        if self._host_loaded and self.renders < HOST_RELOAD_EVERY:
            return
        if self._host_path is None or not os.path.exists(self._host_path):
            self._host_path = os.path.join(self.workdir(), "host.html")
            Path(self._host_path).write_text(_host_html(), encoding="utf-8")
        driver.get(Path(self._host_path).as_uri())
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        while not driver.execute_script(_HOST_READY_JS):
            if time.monotonic() > deadline:
                raise ExportError("the export browser could not load BokehJS" + _console_errors(driver))
            time.sleep(0.02)
        self._host_loaded, self.renders = True, 0

    def host_stale(self) -> None:
        self._host_loaded = False

    def _start(self):
        chromium, driver_path = find_browser()
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.chrome.webdriver import WebDriver

        options = Options()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
        try:
            driver = WebDriver(service=Service(driver_path), options=options)
        except WebDriverException as exc:
            raise BrowserUnavailable(
                f"could not start Chromium for PNG/SVG export ({chromium}, {driver_path}): "
                f"{str(exc.msg or exc).strip()}"
            ) from exc
        driver.set_script_timeout(RENDER_TIMEOUT_S)
        self.starts += 1
        self._host_loaded = False
        return driver

    def run(self, fn):
        """``fn(driver)`` with the browser held; a dead browser is replaced and ``fn`` tried once more."""
        from selenium.common.exceptions import WebDriverException
        from urllib3.exceptions import HTTPError

        with self._lock:
            for attempt in (1, 2):
                if self._driver is None:
                    self._driver = self._start()
                try:
                    result = fn(self._driver)
                    break
                except (WebDriverException, HTTPError, OSError) as exc:  # the browser or its driver died
                    self._quit()
                    why = str(getattr(exc, "msg", None) or exc).strip().splitlines()[0]
                    if attempt == 2:
                        raise ExportError(f"the export browser failed: {why}") from exc
                    log.warning("export browser failed (%s); starting a new one", why)
            self._last_use = time.monotonic()
            self._arm_idle_timer()
            return result

    def _arm_idle_timer(self):
        if IDLE_CLOSE_S <= 0:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(IDLE_CLOSE_S, self._close_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _close_if_idle(self):
        with self._lock:
            if self._driver is not None and time.monotonic() - self._last_use >= IDLE_CLOSE_S * 0.99:
                log.info("closing the idle export browser")
                self._quit()

    def _quit(self):
        driver, self._driver = self._driver, None
        self._host_loaded = False
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - already dead
                pass

    def close(self):
        """Quit the browser (if running) and remove the temporary files."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._quit()
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    @property
    def running(self) -> bool:
        return self._driver is not None


_BROWSER = _Browser()
atexit.register(_BROWSER.close)


def close_browser() -> None:
    """Quit the export browser now (it starts again on the next PNG/SVG export)."""
    _BROWSER.close()


# --------------------------------------------------------------------------------------------------- in the app
class ExportDownload(pn.widgets.FileDownload):
    """A download button for one figure in one format. Cheap to create (no browser, nothing rendered until
    clicked). On click, on the server: the figure is serialised on the event loop (the document's thread), the
    file is rendered on ``EXPORT_POOL`` while the server keeps answering every session, and the result is sent
    to the browser, which saves it as ``filename``. A failure is shown as a notification, never a traceback."""

    def __init__(self, fig: Model, fmt: str, stem: str, *, title: str = "", scale: float = DEFAULT_SCALE, **params):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
        self._fig, self._fmt, self._title, self._scale = fig, fmt, title, scale
        params = {
            "label": fmt.upper(),
            "color": "light",
            "width": 62,
            "height": 30,
            "margin": (0, 4, 4, 0),
            "css_classes": ["vgp-download", f"vgp-download-{fmt}"],
            **params,
        }
        super().__init__(callback=self._produce, filename=f"{stem}.{fmt}", auto=True, embed=False, **params)
        self.last_seconds: float | None = None  # how long the last export took (measurements, tests)

    async def _produce(self):
        started = time.perf_counter()
        self.loading = True
        try:
            snap = snapshot(self._fig)  # on the event loop: no session changes the models meanwhile
            title = f"{snap.title} — {self._title}" if self._title and snap.title else (snap.title or self._title)
            job = functools.partial(render, snap, self._fmt, title=title, scale=self._scale)
            data = await asyncio.get_running_loop().run_in_executor(EXPORT_POOL, job)
        except Exception as exc:  # noqa: BLE001 - reported to the user; the session goes on
            message = str(exc) if isinstance(exc, ExportError) else f"{type(exc).__name__}: {exc}"
            log.warning("export of %s failed: %s", self.filename, message, exc_info=not isinstance(exc, ExportError))
            notifications = pn.state.notifications
            if notifications is not None:
                notifications.error(f"Could not export {self.filename}: {message}", duration=10_000)
            return None
        finally:
            self.loading = False
        self.last_seconds = time.perf_counter() - started
        return io.BytesIO(data)

    async def _async_sync_data(self):
        fileobj = await self._produce()
        if fileobj is not None:  # a failed export sends nothing (it was reported)
            self._sync_data(fileobj)
