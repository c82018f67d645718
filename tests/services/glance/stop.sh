#!/usr/bin/env bash
# Stop the Glance that start.sh started for this GLANCE_ORACLE_HOME (default
# /tmp/glance-oracle): only the uWSGI master it recorded, and only if that pid's
# command line still names this home's uwsgi.ini (the master stops its worker).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
home=${GLANCE_ORACLE_HOME:-/tmp/glance-oracle}
[ -d "$home" ] || exit 0
home=$(cd "$home" && pwd)
pidfile=$home/run/glance-api.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
[ -n "$pid" ] || exit 0

ours() { tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -qF -- "/bin/uwsgi --ini $home/run/uwsgi.ini "; }
stop_recorded Glance "$pid" "$pidfile"
