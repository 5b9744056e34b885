"""Cold start of the classroom server: from the server command's start to the first page interactive, with and
without JAX's pre-warmed compilation cache.

"First page interactive" = in Chromium, the deep-network page (the site's first page) is loaded, its websocket is
open, its plots hold data, and a keyboard move of its first slider (depth) has been answered by the server with
new plot data. Also printed: when /liveness first answered and when the background warm-up logged its end.

Two ways to start the server:
* ``--mode container`` (default where the image exists): ``podman run`` of the image built by
  ../shared/tools/container-check (``vgp-explorer:check``; root, runc, host network, as that tool runs it). Warm =
  the image as built (its cache was filled by the Dockerfile); cold = the same image with ``VGP_JAX_CACHE_DIR``
  pointing at an empty directory, as if the Dockerfile had no warm-up step.
* ``--mode host``: ``deploy/serve.sh`` (the image's command) on this machine with ``VGP_JAX_CACHE_DIR`` set to an
  empty directory (cold), or to a directory filled beforehand by ``app.warmup.warm_up_all()`` (warm; what the
  Dockerfile does at build time).

usage: python bench/bench_cold_start.py [--mode container|host] [--repeats N] [--image TAG]
Debian's chromium is required (tests/browser/conftest.py's flags); the container mode needs root and podman.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM_FLAGS, SIGNATURE_JS  # noqa: E402

PODMAN = ["podman", "--runtime", "/usr/sbin/runc"]
LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]  # as container-check runs it
HAS_DATA = re.compile(r":[1-9]\d*:")
WARM_LOG = re.compile(r"JAX programs warmed up in ([\d.]+) s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Started:
    """A started server: how to read its log and how to stop it."""

    def __init__(self, log, stop):
        self.log, self.stop = log, stop


def start_container(image: str, port: int, cold: bool, conf: str) -> Started:
    env = ["-e", f"VGP_PORT={port}", "-e", f"BOKEH_ALLOW_WS_ORIGIN=localhost:{port}"]
    if cold:  # an empty, writable cache directory inside the container
        env += ["-e", "VGP_JAX_CACHE_DIR=/tmp/vgp-empty-jax-cache"]
    name = f"vgp-coldstart-{os.getpid()}-{port}"
    subprocess.run(
        PODMAN + ["run", "-d", "--rm", "--name", name, "--network", "host", *LIMITS, *env, image],
        check=True,
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, CONTAINERS_CONF=conf),
    )

    def log() -> str:
        r = subprocess.run(PODMAN + ["logs", name], capture_output=True, text=True)
        return r.stdout + r.stderr

    def stop() -> None:
        subprocess.run(PODMAN + ["rm", "-f", "-t", "5", name], capture_output=True)

    return Started(log, stop)


def start_host(port: int, cache_dir: str, log_path: Path) -> Started:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VGP_", "PANEL_", "BOKEH_"))}
    env.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        PYTHONUNBUFFERED="1",
        VGP_ADDRESS="127.0.0.1",
        VGP_PORT=str(port),
        VGP_JAX_CACHE_DIR=cache_dir,
    )
    if "VGP_WARMUP_WIDTHS" in os.environ:
        env["VGP_WARMUP_WIDTHS"] = os.environ["VGP_WARMUP_WIDTHS"]
    log_file = open(log_path, "w")
    proc = subprocess.Popen(
        ["sh", str(ROOT / "deploy" / "serve.sh")], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()

    return Started(lambda: log_path.read_text(errors="replace"), stop)


def measure(browser, port: int, started: Started, t0: float, timeout: float) -> dict[str, float]:
    """Seconds from ``t0`` (just before the server command) to each milestone."""
    out: dict[str, float] = {}
    deadline = t0 + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("the server never answered /liveness:\n" + started.log()[-3000:])
        time.sleep(0.05)
    out["liveness"] = time.perf_counter() - t0
    context = browser.new_context(viewport={"width": 1500, "height": 1350})
    try:
        page = context.new_page()
        opened = []
        page.on("console", lambda m: opened.append(m.text) if "is now open" in m.text else None)
        page.goto(f"http://localhost:{port}/app", timeout=timeout * 1000)
        while not opened:
            assert time.perf_counter() < deadline, "no websocket"
            page.wait_for_timeout(20)
        while not HAS_DATA.search(sig := page.evaluate(SIGNATURE_JS)):
            assert time.perf_counter() < deadline, "no plot data"
            page.wait_for_timeout(20)
        out["page with plots"] = time.perf_counter() - t0
        handle = page.locator(".noUi-handle").first  # depth
        handle.focus()
        handle.press("ArrowRight")
        while page.evaluate(SIGNATURE_JS) == sig:
            assert time.perf_counter() < deadline, "the slider move was never answered"
            page.wait_for_timeout(20)
        out["first move answered"] = time.perf_counter() - t0
    finally:
        context.close()
    # the background warm-up may still be running: note when it ended, if it did within the time limit
    while time.perf_counter() < deadline:
        m = WARM_LOG.search(started.log())
        if m:
            out["warm-up logged its end"] = time.perf_counter() - t0
            out["warm-up (its own figure)"] = float(m.group(1))
            break
        time.sleep(0.5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("container", "host"), default=None)
    ap.add_argument("--image", default="vgp-explorer:check")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per start")
    args = ap.parse_args()

    have_image = (
        os.geteuid() == 0
        and shutil.which("podman")
        and os.path.exists("/usr/sbin/runc")
        and subprocess.run(PODMAN + ["image", "exists", args.image]).returncode == 0
    )
    mode = args.mode or ("container" if have_image else "host")
    if mode == "container" and not have_image:
        sys.exit(f"no image {args.image} (run ../shared/tools/container-check --build-only as root first)")

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Debian's chromium is needed (apt-get install chromium)")

    work = Path(tempfile.mkdtemp(prefix="vgp-coldstart-"))
    conf = work / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")  # as container-check (this sandbox's runc)
    warm_cache = work / "warm-cache"
    if mode == "host":
        print("filling a JAX cache as the Dockerfile does (not timed) ...", flush=True)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from app.warmup import warm_up_all; warm_up_all()"],
            cwd=ROOT,
            check=True,
            env=dict(os.environ, VGP_JAX_CACHE_DIR=str(warm_cache)),
        )
        print(f"  filled in {time.perf_counter() - t:.0f} s ({sum(1 for _ in warm_cache.iterdir())} entries)")

    results: dict[str, list[dict[str, float]]] = {"warm cache": [], "empty cache": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        try:
            for rep in range(args.repeats):
                for label in ("warm cache", "empty cache"):
                    port = free_port()
                    cold = label == "empty cache"
                    t0 = time.perf_counter()
                    if mode == "container":
                        started = start_container(args.image, port, cold, str(conf))
                    else:
                        cache = work / f"empty-{rep}" if cold else warm_cache
                        cache.mkdir(exist_ok=True)
                        started = start_host(port, str(cache), work / f"{label}-{rep}.log")
                    try:
                        r = measure(browser, port, started, t0, args.timeout)
                    finally:
                        started.stop()
                    results[label].append(r)
                    print(
                        f"[{mode}] {label}, run {rep + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.items()),
                        flush=True,
                    )
        finally:
            browser.close()
    shutil.rmtree(work, ignore_errors=True)

    print(f"\ncold start, {mode} (seconds from the server command; median of {args.repeats}):")
    keys = ["liveness", "page with plots", "first move answered", "warm-up logged its end"]
    print(f"{'':14}" + "".join(f"{k:>24}" for k in keys))
    for label, runs in results.items():
        row = []
        for k in keys:
            vals = [r[k] for r in runs if k in r]
            row.append(f"{statistics.median(vals):.1f}" if vals else "—")
        print(f"{label:14}" + "".join(f"{v:>24}" for v in row))


if __name__ == "__main__":
    main()
