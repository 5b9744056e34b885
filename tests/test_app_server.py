"""tests/app_server.py's server-log check, used by the browser, load and deployment tests: the server writes each
client-caused error as one line (app/components/server_log.py), which the check counts and reports; any traceback
is a fault."""

from tests.app_server import log_errors, read_log

CLIENT_CAUSED = """2026-12-03 02:42:23,884 vgp-explorer: could not send to a closed connection (session abc)
2026-12-03 02:42:24,001 vgp-explorer: rejected a client message: ValueError: failed to validate (session abc)
2026-12-03 02:42:25,000 vgp-explorer: dropped a message from a closed connection: AssertionError (session abc)
2026-12-03 02:42:33,885 vgp-explorer: could not send to a closed connection: ... and 312 more like it in the last 10 s
2026-12-03 02:42:34,000 Failed sending message as connection was closed
"""
#: what Bokeh wrote before the server filtered it: a traceback, now a fault wherever it comes from
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


def test_client_caused_lines_are_counted_not_errors():
    report = read_log(CLIENT_CAUSED)
    assert report.errors == []
    assert report.client_caused == {
        "could not send to a closed connection": 313,
        "rejected a client message": 1,
        "dropped a message from a closed connection": 1,
    }
    assert "could not send to a closed connection: 313" in report.summary()


def test_any_traceback_or_error_line_is_a_fault():
    errors = log_errors(CLIENT_CAUSED + CLIENT_CLOSED_MID_MOVE + SERVER_FAULT + "2026-12-03 02:43:00,000 ERROR: boom\n")
    assert len(errors) == 3
    assert "bokeh/server/connection.py" in errors[0] and "app/pages/deep.py" in errors[1]
    assert "ERROR: boom" in errors[2]
