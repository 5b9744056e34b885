"""The server-log check used by the browser, load and deployment tests: a client that went away is not a fault."""
from tests.app_server import log_errors

CLIENT_CLOSED_MID_SEND = """2026-12-03 02:42:23,884 Task exception was never retrieved
Traceback (most recent call last):
  File "tornado/websocket.py", line 1142, in wrapper
    raise WebSocketClosedError()
tornado.websocket.WebSocketClosedError
"""
CLIENT_CLOSED_MID_MOVE = """2026-12-03 02:42:50,205 error handling message
 message: Message 'PATCH-DOC' content: {'events': []}
 error: AssertionError()
Traceback (most recent call last):
  File "bokeh/server/session.py", line 295, in patch
    return connection.session._handle_patch(message, connection)
  File "bokeh/server/connection.py", line 65, in session
    assert self._session is not None
           ^^^^^^^^^^^^^^^^^^^^^^^^^
AssertionError
"""
SERVER_FAULT = """2026-12-03 02:42:51,000 error handling message
Traceback (most recent call last):
  File "app/pages/deep.py", line 10, in _redraw
    assert self._views is not None
AssertionError
"""


def test_a_client_gone_is_not_an_error_but_a_server_fault_is():
    log = CLIENT_CLOSED_MID_SEND + CLIENT_CLOSED_MID_MOVE + "2026-12-03 02:42:50,210 Failed sending message\n"
    assert log_errors(log) == []
    errors = log_errors(log + SERVER_FAULT + "2026-12-03 02:43:00,000 ERROR: boom\n")
    assert len(errors) == 2 and "app/pages/deep.py" in errors[0] and "ERROR: boom" in errors[1]
