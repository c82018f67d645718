# Shared by the services' scripts: source it, do not run it.

# stop_recorded NAME PID PIDFILE: stop the server whose master is PID (read
# from PIDFILE) with SIGTERM, SIGKILL after 15 s, then any of its workers
# left behind. Only processes the caller's `ours PID` function claims for
# this home are signalled; a PID that is no longer ours is forgotten. Never
# kills by name.
stop_recorded() {
  local name=$1 pid=$2 pidfile=$3 workers w
  if ! ours "$pid"; then
    # Gone, or the pid now belongs to something else: leave that alone.
    echo "stop.sh: pid $pid is not this home's $name any more; forgetting it"
    rm -f "$pidfile"
    return 0
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
  echo "stop.sh: stopped $name pid $pid"
}
