#!/usr/bin/env bash
# Stop the Glance that start.sh started for this GLANCE_ORACLE_HOME (default
# /tmp/glance-oracle): only the uWSGI master it recorded, and only if that pid's
# command line still names this home's uwsgi.ini (the master stops its worker).
set -uo pipefail
home=${GLANCE_ORACLE_HOME:-/tmp/glance-oracle}
[ -d "$home" ] || exit 0
home=$(cd "$home" && pwd)
pidfile=$home/run/glance-api.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
[ -n "$pid" ] || exit 0

ours() { tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -qF -- "/bin/uwsgi --ini $home/run/uwsgi.ini "; }
if ! ours "$pid"; then
  echo "stop.sh: pid $pid is not this home's Glance any more; forgetting it"
  rm -f "$pidfile"
  exit 0
fi
workers=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
kill -TERM "$pid"
for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: pid $pid still running 15 s after SIGTERM: SIGKILL"
  kill -KILL "$pid"
fi
for w in $workers; do
  if ours "$w"; then kill -KILL "$w"; fi
done
rm -f "$pidfile"
echo "stop.sh: stopped Glance pid $pid"
