#!/bin/sh
# Start the explorer with settings from environment variables (documented in README.md, "Classroom server").
set -eu
set -- panel serve app \
  --address "${VGP_ADDRESS:-0.0.0.0}" \
  --port "${VGP_PORT:-5006}" \
  --allow-websocket-origin "${BOKEH_ALLOW_WS_ORIGIN:-localhost:${VGP_PORT:-5006}}" \
  --num-procs "${VGP_NUM_PROCS:-1}" \
  --unused-session-lifetime "${VGP_UNUSED_SESSION_LIFETIME_MS:-60000}" \
  --check-unused-sessions "${VGP_CHECK_UNUSED_SESSIONS_MS:-10000}" \
  --session-token-expiration "${VGP_SESSION_TOKEN_EXPIRATION_S:-3600}" \
  --liveness
if [ "${VGP_NUM_THREADS:-0}" != "0" ]; then set -- "$@" --num-threads "$VGP_NUM_THREADS"; fi
# Class password: a file mounted into the container (preferred) or the variable itself.
if [ -n "${VGP_PASSWORD_FILE:-}" ]; then
  set -- "$@" --basic-auth "$VGP_PASSWORD_FILE"
elif [ -n "${VGP_PASSWORD:-}" ]; then
  set -- "$@" --basic-auth "$VGP_PASSWORD" --cookie-secret "${VGP_COOKIE_SECRET:-$(python -c 'import secrets; print(secrets.token_hex(32))')}"
fi
if [ "${VGP_ADMIN:-0}" = "1" ]; then set -- "$@" --admin; fi
exec "$@"
