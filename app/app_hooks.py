"""Bokeh server hooks: warm the JAX programs once per server process, in the background, at start-up."""

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

    answer_moves_without_debounce()
    install_client_error_filter()  # one line, not a traceback, per client-caused error; rate-limited
    start_background_warmup()
