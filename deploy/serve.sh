#!/bin/sh
# Start the explorer with settings from environment variables (documented in README.md, "Classroom server",
# and deploy/README.md): maps them onto the flags of `vgp serve` (app/server.py: `panel serve app`, hardened) and
# execs it. Extra arguments are passed on (`serve.sh --num-threads 2`).
#
# Secrets never become flags (a command line is visible to every user of the machine in `ps`): the server reads
# them from the environment itself and checks them at start (a bad password file stops it with status 2):
#   class password       $VGP_PASSWORD_FILE (first line, or JSON {"name": "password", ...}) or $VGP_PASSWORD
#   login-cookie secret  $VGP_COOKIE_SECRET_FILE or $VGP_COOKIE_SECRET (or $PANEL_COOKIE_SECRET)
#   session-id key       $VGP_SECRET_KEY_FILE or $VGP_SECRET_KEY
# and the pages that may frame the app: $VGP_FRAME_ANCESTORS (CSP sources, default 'self').
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${VGP_PORT:-5006}
set -- \
  --address "${VGP_ADDRESS:-0.0.0.0}" \
  --port "$port" \
  --num-procs "${VGP_NUM_PROCS:-1}" \
  --unused-session-lifetime "${VGP_UNUSED_SESSION_LIFETIME_MS:-60000}" \
  --check-unused-sessions "${VGP_CHECK_UNUSED_SESSIONS_MS:-10000}" \
  --session-token-expiration "${VGP_SESSION_TOKEN_EXPIRATION_S:-3600}" \
  --liveness \
  "$@"
# The addresses students type (host[:port], comma-separated; never `*` by default): the websocket's Origin must be
# one of them.
origins=${BOKEH_ALLOW_WS_ORIGIN:-localhost:$port}
old_ifs=$IFS; IFS=,; set -f  # no globbing of `*`
for origin in $origins; do
  origin=$(printf '%s' "$origin" | tr -d ' ')
  [ -n "$origin" ] && set -- "$@" --allow-websocket-origin "$origin"
done
IFS=$old_ifs; set +f
unset BOKEH_ALLOW_WS_ORIGIN  # passed as flags above; Bokeh would otherwise read the variable too
if [ "${VGP_NUM_THREADS:-0}" != "0" ]; then set -- "$@" --num-threads "$VGP_NUM_THREADS"; fi
# Behind a reverse proxy (deploy/nginx): trust its X-Forwarded-For / X-Forwarded-Proto / X-Real-IP headers (the
# login throttle's client address, the Secure flag of the login cookies).
if [ "${VGP_USE_XHEADERS:-0}" = "1" ]; then set -- "$@" --use-xheaders; fi
if [ "${VGP_ADMIN:-0}" = "1" ]; then set -- "$@" --admin; fi
# `app` of this checkout (or image), whatever the working directory; the Python of the PATH, as `panel` was.
PYTHONPATH="$(cd "$here/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec python -m app.server "$@"
