"""The ``vgp`` command: ``vgp serve`` serves the app for a class (``app/server.py``); ``vgp export`` renders one
figure of one page headless, for slides and papers.

    vgp serve [any `panel serve` flag]...
    vgp export --list
    vgp export PAGE FIGURE [--set NAME=VALUE]... -o FILE.(png|svg|html) [--width W] [--height H] [--scale S]

The page is built exactly as a browser session builds it from the URL ``?NAME=VALUE&...`` (same parsing,
same defaults), its background work (training runs, deferred views) is finished (``page.settle``), and the figure
is written by the same code as the download buttons under every figure (``app.components.export``): PNG and SVG
through BokehJS in Debian's headless Chromium, HTML with BokehJS inline (no browser needed, opens offline).

Exit status: 0 on success (the path written is printed), 2 for bad arguments (unknown page, figure, format or
parameter, a value the page would clamp or ignore, a missing directory — each message lists what is valid), 1
when the export itself fails (no Chromium, timeout) or the file cannot be written (``-o`` names a directory, no
permission, disk full: one line naming the path, checked before rendering where it can be; no temporary file is
left). The path written goes to standard output, everything else to standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

USAGE_ERROR, EXPORT_ERROR = 2, 1


class CliError(Exception):
    def __init__(self, message: str, status: int = USAGE_ERROR):
        super().__init__(message)
        self.status = status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vgp", description="vgp-explorer from the command line.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="serve the app for a class: `panel serve app` with signed session ids, "
        "security headers and the class password read from the environment (see deploy/README.md); "
        "takes every `panel serve` flag",
    )
    export = commands.add_parser(
        "export",
        help="render one figure of one page to PNG, SVG or standalone HTML",
        description="Render one figure of one page to a file, as the page shows it with the given settings "
        "(the same as its download buttons). `vgp export --list` prints every PAGE FIGURE pair.",
        epilog="example:\n"
        "  vgp export deep gradient-profile --set depth=20 --set activation=sigmoid \\\n"
        "      -o vanishing.png --scale 3\n\n"
        "The export waits for the page's training run. A figure that does not show training is quicker with\n"
        "the page's training switched off (deep: --set auto_train=false).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("page", nargs="?", metavar="PAGE", help="page slug (deep, recurrent, ...)")
    export.add_argument("figure", nargs="?", metavar="FIGURE", help="figure name (see --list)")
    export.add_argument("--list", action="store_true", help="print every PAGE FIGURE pair and exit")
    export.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="settings",
        help="a page control, as in the page's URL query (repeatable)",
    )
    export.add_argument(
        "-o", "--output", metavar="FILE", help="output file; its extension picks the format: .png, .svg or .html"
    )
    export.add_argument("--width", type=int, metavar="PX", help="figure width in CSS pixels (default: as shown)")
    export.add_argument("--height", type=int, metavar="PX", help="figure height in CSS pixels (default: as shown)")
    export.add_argument(
        "--scale",
        type=float,
        metavar="S",
        help="PNG only: pixels per CSS pixel (default 2; the PNG is width·S × height·S)",
    )
    export.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the page's training runs and views (default 300)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:  # every `panel serve` flag passes through to the server (app/server.py)
        from .server import main as serve

        return serve(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "export":
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    try:
        if args.list:
            if args.page or args.figure or args.output or args.settings:
                raise CliError("--list takes no other arguments")
            return _list()
        return _export(args)
    except CliError as exc:
        print(f"vgp export: error: {exc}", file=sys.stderr)
        return exc.status


def _list() -> int:
    from .pages import PAGES

    status = 0
    for spec in PAGES:
        try:
            page = spec.build(query={})
            names = list(page.figures())
        except Exception as exc:  # noqa: BLE001 - a page that cannot be built is reported, the others listed
            print(
                f"vgp export: error: page {spec.slug!r} could not be built: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            status = EXPORT_ERROR
            continue
        for name in names:
            print(f"{spec.slug} {name}")
        sys.stdout.flush()
    return status


def _parse_settings(items: list[str]) -> dict[str, str]:
    query: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CliError(f"--set {item!r}: expected NAME=VALUE")
        query[name] = value
    return query


def _export(args) -> int:
    from .components import export
    from .components.url_state import parse_value
    from .pages import PAGES, page_spec

    if not args.page or not args.figure:
        raise CliError("PAGE and FIGURE are required (or --list); pages: " + ", ".join(p.slug for p in PAGES))
    if not args.output:
        raise CliError("-o FILE is required (FILE.png, FILE.svg or FILE.html)")
    out = Path(args.output)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in export.FORMATS:
        raise CliError(
            f"cannot tell the format of {str(out)!r}: the file name must end in "
            + ", ".join(f".{f}" for f in export.FORMATS)
        )
    _check_output(out)
    if args.scale is not None and fmt != "png":
        raise CliError("--scale applies to PNG only")
    scale = export.DEFAULT_SCALE if args.scale is None else args.scale
    if not 0.1 <= scale <= export.MAX_SCALE:
        raise CliError(f"--scale must be between 0.1 and {export.MAX_SCALE:g}")
    for value, what in ((args.width, "--width"), (args.height, "--height")):
        if value is not None and not 10 <= value <= 10_000:
            raise CliError(f"{what} must be between 10 and 10000 pixels")
    try:
        spec = page_spec(args.page)
    except KeyError as exc:
        raise CliError(exc.args[0]) from None
    query = _parse_settings(args.settings)

    started = time.perf_counter()
    try:
        page = spec.build(query=query)
    except ImportError as exc:
        raise CliError(f"page {spec.slug!r} is not available: {exc}", EXPORT_ERROR) from None
    names = sorted(n for n in page.model.param if n != "name")
    unknown = [n for n in query if n not in names]
    if unknown:
        raise CliError(
            f"page {spec.slug!r} has no parameter {', '.join(map(repr, unknown))}; parameters: " + ", ".join(names)
        )
    notices = list(getattr(page, "query_notices", []) or [])
    if notices:
        raise CliError("bad --set value: " + "; ".join(notices))
    for name, raw in query.items():  # a control the page does not read from the URL, or one it adjusted
        wanted, _ = parse_value(page.model.param[name], raw)
        if getattr(page.model, name) != wanted:
            raise CliError(
                f"--set {name}={raw}: the page shows {name}={getattr(page.model, name)!r} instead "
                "(it does not take this value from a link, or another setting limits it)"
            )
    figures = page.figures()
    if args.figure not in figures:
        raise CliError(f"page {spec.slug!r} has no figure {args.figure!r}; figures: " + ", ".join(figures))
    settle = getattr(page, "settle", None)
    if settle is not None:
        try:
            settle(args.timeout)
        except TimeoutError as exc:
            raise CliError(f"{exc} (raise --timeout?)", EXPORT_ERROR) from None
    for key in ("setting", "training", "failure"):  # a failure inside the page (e.g. a training run that stopped)
        if text := page.notices.get(key):
            print(f"vgp export: warning: the page reports: {text}", file=sys.stderr)
    try:
        data = export.render(
            figures[args.figure],
            fmt,
            title=f"{spec.title}: {args.figure} (vgp-explorer)",
            scale=scale,
            width=args.width,
            height=args.height,
        )
    except export.ExportError as exc:
        raise CliError(str(exc), EXPORT_ERROR) from None
    _write(out, data)
    print(out)
    print(f"vgp export: wrote {len(data):,} bytes in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _check_output(out: Path) -> None:
    """Refuse, before any slow rendering, an output that cannot be written: a missing directory (a usage error,
    status 2), a directory given as the file, a parent that is not a directory, or one this user may not write
    into (status 1)."""
    parent = out.parent
    if not parent.exists():
        raise CliError(f"the directory {str(parent)!r} does not exist")
    if out.is_dir():
        raise CliError(f"cannot write {str(out)!r}: it is a directory", EXPORT_ERROR)
    if not parent.is_dir():
        raise CliError(f"cannot write {str(out)!r}: {str(parent)!r} is not a directory", EXPORT_ERROR)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"cannot write {str(out)!r}: no permission to create files in {str(parent)!r}", EXPORT_ERROR)


def _write(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` atomically: into a temporary file next to it, then ``os.replace`` — never a
    half-written file under the requested name, and no temporary file left behind, whatever fails. An OS error
    becomes a one-line ``CliError`` (status 1) naming ``out``."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        raise CliError(f"cannot write {str(out)!r}: {exc.strerror or exc}", EXPORT_ERROR) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the directory itself is gone or unreadable: nothing we can remove
            pass


if __name__ == "__main__":
    sys.exit(main())
