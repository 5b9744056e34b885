"""Bokeh server hooks: once per server process, at start-up: warm the JAX programs in the background, and set what
every session shares."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def on_server_loaded(server_context):
    # Bokeh restores sys.path after loading this file, so make `app.*` importable here, when the hook runs.
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from app.components.compat import answer_moves_without_debounce
    from app.components.server_log import install as install_client_error_filter
    from app.warmup import start_background_warmup

    skip_document_validation()
    answer_moves_without_debounce()
    install_client_error_filter()  # one line, not a traceback, per client-caused error; rate-limited
    start_background_warmup()


def skip_document_validation() -> None:
    """Bokeh checks every new session's document (``Document.validate``: ~40 ms of CPU per Deep page session, on
    the event loop that serves every student). The pages build the same models in every session, and
    tests/test_document_validation.py validates each page's document, so the served app skips the check.
    ``BOKEH_VALIDATE_DOC=true`` turns it back on."""
    from bokeh.settings import settings

    if "BOKEH_VALIDATE_DOC" not in os.environ:
        settings.perform_document_validation.set_value(False)
