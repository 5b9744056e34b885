"""Run a call in a thread of its own.

pytest-playwright's session-wide sync Playwright keeps an asyncio loop running in the main thread once any
browser test has run, so a later ``asyncio.run``, nbclient or a second ``sync_playwright()`` in the main thread
fails ("Cannot run the event loop while another loop is running"). Tests that need a loop of their own call
through ``in_fresh_thread``, which behaves the same whether or not the browser tests ran first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_fresh_thread[T](fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a new thread; its result, or its exception re-raised here."""
    result: list = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            failure.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result[0]
