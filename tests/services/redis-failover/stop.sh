#!/usr/bin/env bash
# Stop what start.sh started in FAILOVER_HOME (or the home given as $1): only the
# recorded pids, and only while they are still this home's processes (see `ours`
# in lib.sh). Never kills by name. `--clean` as $2 (or FAILOVER_CLEAN=1) also
# removes the home.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib.sh"
. "$here/lib.sh"
home=${1:-${FAILOVER_HOME:-}}
[ -n "$home" ] || { echo "stop.sh: name the home: FAILOVER_HOME=... or stop.sh HOME" >&2; exit 1; }
[ -d "$home" ] || { echo "stop.sh: no $home, nothing to stop"; exit 0; }
home=$(cd "$home" && pwd)
for pidfile in "$home"/haproxy/haproxy.pid "$home"/haproxy/hold.pid "$home"/sentinel*/sentinel.pid "$home"/redis*/redis.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] || continue
  stop_recorded "$(basename "$(dirname "$pidfile")")/$(basename "$pidfile" .pid)" "$pid" "$pidfile"
done
if [ "${2:-}" = --clean ] || [ "${FAILOVER_CLEAN:-}" = 1 ]; then
  rm -rf "$home"
fi
