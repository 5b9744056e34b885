"""``vgp serve``: the app served exactly as ``panel serve app`` serves it (every ``panel serve`` flag works), hardened.

    python -m app.server [PANEL-SERVE-FLAGS...] [APP ...]      # the app/ directory by default

* **Signed session ids** (Bokeh's ``sign_sessions``): a page's session id is signed with a secret key, so a
  made-up or guessed ``?bokeh-session-id=`` is refused (403) instead of opening, or joining, a session. The key:
  ``VGP_SECRET_KEY_FILE`` (first line) or ``VGP_SECRET_KEY`` (at least 32 characters), else random per start.
* **Security headers** on every response (``SecurityHeaders``): a Content-Security-Policy that runs only the
  server's own scripts (a per-response nonce; no inline handlers, no injected ``<script>``), ``object-src 'none'``,
  ``base-uri 'self'``, ``frame-ancestors`` from ``VGP_FRAME_ANCESTORS`` (default ``'self'``, then also
  ``X-Frame-Options: SAMEORIGIN``), and ``X-Content-Type-Options: nosniff``.
* **Class password** read by the server itself, never from the command line (``ps`` shows command lines to every
  user): ``VGP_PASSWORD_FILE`` (the password on its first line, or a JSON object ``{"name": "password", ...}``) or
  ``VGP_PASSWORD``. A bad file stops the start (``vgp serve: error: ...``, exit status 2). Logins are throttled
  per client address, an empty name gets a message, and the login cookies are ``SameSite=Lax; HttpOnly`` (and
  ``Secure`` over HTTPS). The cookie secret: ``VGP_COOKIE_SECRET_FILE``, ``VGP_COOKIE_SECRET``,
  ``PANEL_COOKIE_SECRET``, else random per start.

Flags that would put a secret on the command line (``--basic-auth``, ``--cookie-secret`` ...) and
``--session-ids unsigned`` are refused.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import re
import secrets
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bokeh.settings import settings as bokeh_settings
from panel.auth import BasicAuthProvider, BasicLoginHandler, _validate_next_url
from panel.command.serve import Serve
from panel.config import config
from panel.io.state import state
from tornado import httputil
from tornado.web import GZipContentEncoding, OutputTransform

from app.components.scheduler import SCHEDULER

APP_DIR = Path(__file__).resolve().parent
TEMPLATES = APP_DIR / "auth_templates"
USAGE_ERROR = 2
#: Flags that would show a secret in the process list, and where the secret goes instead.
SECRET_FLAGS = {
    "basic_auth": ("--basic-auth", "VGP_PASSWORD_FILE or VGP_PASSWORD"),
    "cookie_secret": ("--cookie-secret", "VGP_COOKIE_SECRET_FILE or VGP_COOKIE_SECRET"),
    "admin_password": ("--admin-password", "PANEL_ADMIN_PASSWORD"),
    "oauth_secret": ("--oauth-secret", "PANEL_OAUTH_SECRET"),
    "oauth_encryption_key": ("--oauth-encryption-key", "PANEL_OAUTH_ENCRYPTION"),
}
MIN_SECRET_KEY = 32  # characters; Bokeh wants 32 bytes of entropy for its session-id signatures


class StartError(Exception):
    """A setting that stops the start: one line on stderr, exit status 2."""


# ---------------------------------------------------------------------------------------------------------------
# Settings from the environment
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hardening:
    """What ``vgp serve`` adds, read from the environment (never from the command line)."""

    secret_key: str
    password: str | dict[str, str] | None = None
    cookie_secret: str | None = None
    frame_ancestors: str = "'self'"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Hardening:
        password = _password(env)
        cookie_secret = None
        if password is not None:  # only the login cookie needs it
            cookie_secret = _secret(env, "VGP_COOKIE_SECRET") or env.get("PANEL_COOKIE_SECRET") or secrets.token_hex(32)
        secret_key = _secret(env, "VGP_SECRET_KEY") or secrets.token_urlsafe(32)
        if len(secret_key) < MIN_SECRET_KEY:
            raise StartError(
                f"the secret key (VGP_SECRET_KEY or VGP_SECRET_KEY_FILE) must have at least "
                f"{MIN_SECRET_KEY} characters, e.g. from `openssl rand -hex 32`"
            )
        return cls(secret_key, password, cookie_secret, _frame_ancestors(env.get("VGP_FRAME_ANCESTORS", "")))


def _read(path: str, variable: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StartError(f"{variable}={path} is not readable ({reason})") from None


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip("\r")


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """``$NAME_FILE``'s first line, else ``$NAME``; None when neither is set. An empty file is an error."""
    if path := env.get(f"{name}_FILE"):
        value = _first_line(_read(path, f"{name}_FILE")).strip()
        if not value:
            raise StartError(f"{name}_FILE={path} holds no value on its first line")
        return value
    return env.get(name) or None


def _password(env: Mapping[str, str]) -> str | dict[str, str] | None:
    """The class password (a string) or named accounts (a dict), from ``VGP_PASSWORD_FILE`` (JSON when it starts
    with ``{`` or ``[``, which must then be an object) or ``VGP_PASSWORD``. Surrounding spaces are dropped (Panel
    strips the typed password too), so every stored password can match."""
    path = env.get("VGP_PASSWORD_FILE")
    if not path:
        return env.get("VGP_PASSWORD", "").strip() or None
    text = _read(path, "VGP_PASSWORD_FILE")
    if text.lstrip().startswith(("{", "[")):
        try:
            accounts = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StartError(f"VGP_PASSWORD_FILE={path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not (
            isinstance(accounts, dict)
            and accounts
            and all(isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip() for k, v in accounts.items())
        ):
            raise StartError(
                f"VGP_PASSWORD_FILE={path} must be a JSON object of names to passwords, "
                '{"name": "password", ...}, with no empty name or password'
            )
        return {name: pw.strip() for name, pw in accounts.items()}
    password = _first_line(text).strip()
    if not password:
        raise StartError(f"VGP_PASSWORD_FILE={path} holds no password on its first line")
    return password


_CSP_SOURCE = re.compile(
    r"'[a-z-]+'|\*|[a-z][a-z0-9+.-]*:|([a-z][a-z0-9+.-]*://)?(\*\.)?[a-z0-9.-]+(:(\d+|\*))?"
    r"(/[\w.~%!$&*+=:@/-]*)?",
    re.IGNORECASE,
)


def _frame_ancestors(value: str) -> str:
    """``VGP_FRAME_ANCESTORS``: space-separated CSP sources. Anything else (a ``;`` or ``,`` would add directives
    to the policy) stops the start."""
    sources = value.split()
    if not sources:
        return "'self'"
    if not all(_CSP_SOURCE.fullmatch(s) for s in sources):
        raise StartError(
            f"VGP_FRAME_ANCESTORS={value!r}: give space-separated sources, e.g. \"'self' https://lms.example.org\""
        )
    return " ".join(sources)


# ---------------------------------------------------------------------------------------------------------------
# Security headers
# ---------------------------------------------------------------------------------------------------------------
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)


def content_security_policy(nonce: str, frame_ancestors: str = "'self'") -> str:
    """The policy. Every source beyond 'self' was measured in Chromium on every page (a report-only run of the
    strictest policy, then this one enforced: tests/browser/test_security_headers.py): scripts only from this
    origin or carrying this response's nonce, so no inline handler and no injected ``<script>`` runs."""
    return "; ".join(
        (
            "default-src 'self'",
            # 'unsafe-eval': Panel renders its ReactiveHTML templates and Bokeh's tables and CustomJS transforms (the
            # palettes) compile code with `new Function`; without it Bokeh fails to render the page
            f"script-src 'self' 'nonce-{nonce}' 'unsafe-eval'",
            # Bokeh and Panel write <style> elements and style attributes at run time (thousands per page)
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",  # Bokeh's toolbar icons and Panel's widgets are data: URLs
            "connect-src 'self'",  # the websocket: Chromium matches ws:/wss: to this host with 'self'
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",  # the login form posts only here
            f"frame-ancestors {frame_ancestors}",
        )
    )


class SecurityHeaders(OutputTransform):
    """Adds the Content-Security-Policy, ``X-Content-Type-Options: nosniff`` and (for the default frame-ancestors)
    ``X-Frame-Options: SAMEORIGIN`` to every response, and stamps the response's CSP nonce on every ``<script``
    tag of the HTML the server itself writes (Bokeh's page template has inline scripts). Defends against
    script injected into the page (an inline handler or a ``<script>`` in a notice or a URL parameter: the CSP
    refuses to run it), MIME sniffing of a download as HTML, and click-jacking in a foreign frame.

    Note: the nonce marks every script tag in the server's own HTML, so the server must never reflect request
    text into its HTML unescaped (Bokeh and Panel send document content over the websocket, not in the page)."""

    frame_ancestors: ClassVar[str] = "'self'"

    @classmethod
    def configured(cls, frame_ancestors: str) -> type[SecurityHeaders]:
        return type(cls.__name__, (cls,), {"frame_ancestors": frame_ancestors})

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        self._nonce = secrets.token_urlsafe(18)
        self._stamp_html = False

    def _stamp(self, chunk: bytes) -> bytes:
        return _SCRIPT_TAG.sub(b'<script nonce="' + self._nonce.encode() + b'"', chunk) if self._stamp_html else chunk

    def transform_first_chunk(
        self, status_code: int, headers: httputil.HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, httputil.HTTPHeaders, bytes]:
        self._stamp_html = headers.get("Content-Type", "").startswith("text/html")
        stamped = self._stamp(chunk)
        if stamped != chunk:
            # a page with a one-time nonce is never reused: no ETag-based 304 with an older nonce
            headers.pop("Etag", None)
            headers["Cache-Control"] = "no-store"
            if "Content-Length" in headers:
                if finishing:
                    headers["Content-Length"] = str(len(stamped))
                else:
                    del headers["Content-Length"]
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = content_security_policy(self._nonce, self.frame_ancestors)
        headers["X-Content-Type-Options"] = "nosniff"
        if self.frame_ancestors == "'self'":
            headers["X-Frame-Options"] = "SAMEORIGIN"
        return status_code, headers, stamped

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        return self._stamp(chunk)


# ---------------------------------------------------------------------------------------------------------------
# Login: throttled, with messages, with strict cookies
# ---------------------------------------------------------------------------------------------------------------
class LoginThrottle:
    """Per-client delay after failed logins: defends against guessing the class password. After ``n``
    consecutive failures the next attempt waits ``base * 2**(n-1)`` seconds (at most ``cap``); attempts sent in
    parallel queue one delay apart, and a client queued more than ``max_wait`` ahead is told to wait. A success
    resets the client. Memory is bounded: entries are forgotten ``forget_after`` seconds after their last failure,
    and the table holds at most ``max_clients`` (the oldest go first)."""

    def __init__(
        self,
        base: float = 0.25,
        cap: float = 8.0,
        max_wait: float = 60.0,
        forget_after: float = 900.0,
        max_clients: int = 10_000,
    ) -> None:
        self.base, self.cap, self.max_wait = base, cap, max_wait
        self.forget_after, self.max_clients = forget_after, max_clients
        self._clients: OrderedDict[str, list[float]] = OrderedDict()  # client -> [failures, not_before, last]

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * 2 ** (failures - 1)) if failures > 0 else 0.0

    def _forget_old(self, now: float) -> None:
        while self._clients:
            client, (_, _, last) = next(iter(self._clients.items()))
            if now - last <= self.forget_after and len(self._clients) <= self.max_clients:
                break
            del self._clients[client]

    def reserve(self, client: str) -> float | None:
        """Seconds this attempt waits before its password is checked (reserving its turn), or None when the
        client has too many attempts queued."""
        now = time.monotonic()
        self._forget_old(now)
        entry = self._clients.get(client)
        if entry is None:
            return 0.0
        failures, not_before, _ = entry
        start = max(now, not_before)
        if start - now > self.max_wait:
            return None
        entry[1] = start + self.delay(int(failures))
        return start - now

    def failed(self, client: str) -> None:
        now = time.monotonic()
        failures, not_before, _ = self._clients.pop(client, [0, 0.0, now])
        failures += 1
        self._clients[client] = [failures, max(not_before, now + self.delay(int(failures))), now]
        self._forget_old(now)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)


#: The login page's messages, by the ``?error=`` code in its URL (any other text in the URL is never shown).
LOGIN_ERRORS = {
    "invalid": "Invalid name or password.",
    "name": "Enter a name (any name) as well as the class password.",
    "wait": "Too many attempts: wait a minute, then try again.",
}


class ThrottledLoginHandler(BasicLoginHandler):
    """Panel's login page and form, with the password checked in constant time against the accounts parsed at
    start (never a file read per login), throttled per client (``LoginThrottle``; the client address honours
    ``--use-xheaders``), a message for an empty name (Panel would set no cookie and loop back to the form), only
    fixed messages on the page, and strict cookies (``set_cookie``)."""

    throttle: ClassVar[LoginThrottle] = LoginThrottle()

    def get(self) -> None:
        code = self.get_argument("error", "")
        if not code:
            return super().get()
        # the error page keeps the `next_url` cookie of the first visit (Panel resets it to the site's root)
        self.write(
            self._login_template.render(
                login_endpoint=self._login_endpoint,
                PANEL_CDN="",
                errormessage=LOGIN_ERRORS.get(code, LOGIN_ERRORS["invalid"]),
            )
        )

    def _validate(self, username: str, password: str) -> bool:
        accounts = config.basic_auth
        expected = accounts.get(username) if isinstance(accounts, dict) else accounts
        if not isinstance(expected, str):
            expected = secrets.token_urlsafe(16)  # compare anyway: the time does not tell whether the name exists
        return hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))

    async def post(self) -> None:
        client = self.request.remote_ip or ""
        wait = self.throttle.reserve(client)
        if wait is None:
            return self.redirect("?error=wait")
        if wait:
            await asyncio.sleep(wait)  # never time.sleep: the event loop serves every other student meanwhile
        username = self.get_argument("username", "")
        password = self.get_argument("password", "")
        if not username:
            return self.redirect("?error=name")
        if not self._validate(username, password):
            self.throttle.failed(client)
            return self.redirect("?error=invalid")
        self.throttle.succeeded(client)
        self.set_current_user(username)
        self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)) or "/")

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Every cookie of the login (``user``, ``id_token``, ``next_url``): ``SameSite=Lax`` (not sent with a
        cross-site POST or sub-request: request forgery), ``HttpOnly`` (no script reads it), ``Secure`` when the
        request came over HTTPS (never sent in clear; the scheme honours X-Forwarded-Proto with --use-xheaders)."""
        kwargs.setdefault("samesite", "Lax")
        kwargs["httponly"] = True
        if self.request.protocol == "https":
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)


class ThrottledAuthProvider(BasicAuthProvider):
    """Panel's password provider with ``ThrottledLoginHandler`` as its login page."""

    @property
    def login_handler(self) -> type[ThrottledLoginHandler]:
        ThrottledLoginHandler._login_endpoint = self._login_endpoint
        ThrottledLoginHandler._login_template = self._login_template
        return ThrottledLoginHandler


# ---------------------------------------------------------------------------------------------------------------
# The serve command
# ---------------------------------------------------------------------------------------------------------------
class HardenedServe(Serve):
    """Panel's ``panel serve`` with the settings of ``Hardening`` applied."""

    hardening: Hardening

    def invoke(self, args: argparse.Namespace) -> Any:
        hardening = self.hardening
        # Bokeh's defaults (Panel's generate_session reads them): signed ids with this key, not BOKEH_SECRET_KEY
        bokeh_settings.secret_key.set_value(hardening.secret_key)
        bokeh_settings.sign_sessions.set_value(True)
        bokeh_settings.__dict__.pop("_secret_key_bytes", None)  # secret_key_bytes() caches the value it read
        if hardening.password is not None:
            config.basic_auth = hardening.password  # before Panel's _configure_panel, which builds the provider
            config.cookie_secret = hardening.cookie_secret
            # the offline pages (Panel's own load its CDN); an install without them (no package data) uses Panel's
            for flag, name in (("basic_login_template", "login.html"), ("logout_template", "logout.html")):
                if not getattr(args, flag) and (TEMPLATES / name).is_file():
                    setattr(args, flag, str(TEMPLATES / name))
        return super().invoke(args)

    def customize_kwargs(self, args: argparse.Namespace, server_kwargs: dict[str, Any]) -> dict[str, Any]:
        server_kwargs = dict(server_kwargs, sign_sessions=True, secret_key=self.hardening.secret_key.encode("utf-8"))
        kwargs = super().customize_kwargs(args, server_kwargs)
        provider = kwargs.get("auth_provider")
        if type(provider) is BasicAuthProvider:
            # the same object (its session-end hook is registered once), with the throttled login page
            provider.__class__ = ThrottledAuthProvider
        # Tornado's own default transforms (gzip when asked for), after ours: the nonce goes in before compression
        defaults = [GZipContentEncoding] if kwargs.get("compress_response") or kwargs.get("gzip") else []
        kwargs["transforms"] = [
            SecurityHeaders.configured(self.hardening.frame_ancestors),
            *defaults,
            *kwargs.get("transforms", []),
        ]
        return kwargs


def _refused_flags(args: argparse.Namespace) -> None:
    for attr, (flag, instead) in SECRET_FLAGS.items():
        if getattr(args, attr, None):
            raise StartError(f"{flag} would show the secret in the process list: set {instead} instead")
    if getattr(args, "session_ids", None) == "unsigned":
        raise StartError("--session-ids unsigned is refused: vgp serve always signs session ids")


def main(argv: list[str] | None = None) -> int:
    """Serve the app; returns the exit status (2 for a setting that stops the start)."""
    parser = argparse.ArgumentParser(
        prog="vgp serve",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Secrets come from the environment: see deploy/README.md.",
    )
    command = HardenedServe(parser=parser)
    args = parser.parse_args(argv)
    try:
        _refused_flags(args)
        command.hardening = Hardening.from_env(os.environ)
    except StartError as exc:
        print(f"vgp serve: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for name in ("VGP_PASSWORD", "VGP_COOKIE_SECRET", "VGP_SECRET_KEY"):
        os.environ.pop(name, None)  # read: not handed down to child processes (the export's Chromium)
    args.files = args.files or [str(APP_DIR)]
    try:
        command.invoke(args)
    except Exception as exc:  # Panel's own `panel serve` reports a bad flag value this way too
        if config.log_level in ("DEBUG", "INFO"):  # as `panel serve`: the traceback when logging verbosely
            raise
        print(f"vgp serve: error: {exc}", file=sys.stderr)
        return 1
    # The server has stopped (SIGTERM, Ctrl-C): end the background work within Docker's stop budget.
    SCHEDULER.shutdown(wait_s=0.5, exit_status=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
