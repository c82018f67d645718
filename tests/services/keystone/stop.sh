#!/usr/bin/env bash
# Stop the Keystone that start.sh started for this KEYSTONE_HOME (default
# /tmp/keystone-real): only the pid it recorded, and only if that pid is still
# a Keystone server of this home (its command line names this home's run/), then
# any of that master's workers left behind. Never kills by name.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
home=${KEYSTONE_HOME:-/tmp/keystone-real}
[ -d "$home" ] || { echo "stop.sh: no $home, nothing to stop"; exit 0; }
home=$(cd "$home" && pwd)
pidfile=$home/run/keystone.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
[ -n "$pid" ] || { echo "stop.sh: no Keystone recorded in $home"; exit 0; }

# Ours: a gunicorn (or uWSGI, as earlier setups ran it) serving from this home's run/.
ours() {
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || return 1
  case "$cmd" in
    */bin/gunicorn\ *"$home/run"* | */bin/uwsgi\ *"$home/run"*) return 0 ;;
  esac
  return 1
}
stop_recorded Keystone "$pid" "$pidfile"
