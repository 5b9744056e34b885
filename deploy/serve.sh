#!/bin/sh
# Start the explorer with settings from environment variables (documented in README.md, "Classroom server",
# and deploy/README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${VGP_PORT:-5006}
set -- panel serve app \
  --address "${VGP_ADDRESS:-0.0.0.0}" \
  --port "$port" \
  --num-procs "${VGP_NUM_PROCS:-1}" \
  --unused-session-lifetime "${VGP_UNUSED_SESSION_LIFETIME_MS:-60000}" \
  --check-unused-sessions "${VGP_CHECK_UNUSED_SESSIONS_MS:-10000}" \
  --session-token-expiration "${VGP_SESSION_TOKEN_EXPIRATION_S:-3600}" \
  --liveness
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
# Behind a reverse proxy (deploy/nginx): trust its X-Forwarded-For / X-Forwarded-Proto / X-Real-IP headers.
if [ "${VGP_USE_XHEADERS:-0}" = "1" ]; then set -- "$@" --use-xheaders; fi

# Class password: a file mounted into the container (preferred: a Docker/Kubernetes secret) or the variable.
# The file holds the password on its first line, or a JSON object {"user": "password", ...} for named accounts.
password=""
if [ -n "${VGP_PASSWORD_FILE:-}" ]; then
  [ -r "$VGP_PASSWORD_FILE" ] || { echo "serve.sh: VGP_PASSWORD_FILE=$VGP_PASSWORD_FILE is not readable" >&2; exit 2; }
  if [ "$(head -c 1 "$VGP_PASSWORD_FILE")" = "{" ]; then
    password=$VGP_PASSWORD_FILE  # Panel reads a JSON file itself (at every login)
  else
    IFS= read -r password < "$VGP_PASSWORD_FILE" || true
    password=$(printf '%s' "$password" | tr -d '\r')
  fi
  [ -n "$password" ] || { echo "serve.sh: VGP_PASSWORD_FILE=$VGP_PASSWORD_FILE holds no password" >&2; exit 2; }
elif [ -n "${VGP_PASSWORD:-}" ]; then
  password=$VGP_PASSWORD
fi
if [ -n "$password" ]; then
  set -- "$@" --basic-auth "$password"
  # The login page and the logout page, without Panel's default links to its CDN (classrooms are often offline).
  [ -f "$here/login.html" ] && set -- "$@" --basic-login-template "$here/login.html"
  [ -f "$here/logout.html" ] && set -- "$@" --logout-template "$here/logout.html"
  # Login cookies are signed with this secret. Give every replica behind a load balancer the same one
  # (VGP_COOKIE_SECRET or VGP_COOKIE_SECRET_FILE), or a student moved to another replica must log in again.
  # Passed in the environment, not on the command line.
  if [ -z "${PANEL_COOKIE_SECRET:-}" ]; then
    if [ -n "${VGP_COOKIE_SECRET_FILE:-}" ]; then
      IFS= read -r PANEL_COOKIE_SECRET < "$VGP_COOKIE_SECRET_FILE" || true
    else
      PANEL_COOKIE_SECRET=${VGP_COOKIE_SECRET:-}
    fi
    [ -n "$PANEL_COOKIE_SECRET" ] \
      || PANEL_COOKIE_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
    export PANEL_COOKIE_SECRET
  fi
fi
unset VGP_PASSWORD VGP_COOKIE_SECRET
if [ "${VGP_ADMIN:-0}" = "1" ]; then set -- "$@" --admin; fi
exec "$@"
