# bench/lib.sh: what bench/run and bench/store_calls share (sourced, not run).
#
# Serving on the real Spin with either store, a private redis-server, and
# one wrk run with CPU accounting, so a run that other processes on this
# shared machine disturbed is seen and taken again.
#
# Needs: root (the checkout), work (a scratch directory). Sets up a cleanup
# trap that stops every process started here.

bench_pids=()
bench_on_exit=()
bench_cleanup() {
  local pid hook
  for hook in "${bench_on_exit[@]}"; do eval "$hook" >/dev/null 2>&1 || true; done
  for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap bench_cleanup EXIT

die() { echo "${0##*/}: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The Spin CLI: $SPIN_BIN, else `spin` on PATH, else the one ../shared ships.
spin_install() {
  if [ -n "${SPIN_BIN:-}" ]; then echo "$SPIN_BIN"; return; fi
  if command -v spin >/dev/null; then command -v spin; return; fi
  bash "${IMAGE_TAGS_SHARED:-$root/../shared}/spin/install.sh"
}

# redis_start NAME: a private redis-server on a free port, in memory only.
# Sets REDIS_URL_<NAME> and PID_<NAME>.
redis_start() {
  local name=$1 port pid
  command -v redis-server >/dev/null || die "redis-server is missing (Debian: apt-get install redis-server)"
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$work/redis-$name.log" 2>&1 &
  pid=$!
  bench_pids+=("$pid")
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
      printf -v "REDIS_URL_$name" 'redis://127.0.0.1:%s' "$port"
      printf -v "PID_$name" '%s' "$pid"
      return 0
    fi
    sleep 0.1
  done
  die "redis-server $name did not answer within 10 s (see $work/redis-$name.log)"
}

# spin_serve NAME MANIFEST STORE [STATE_DIR] [VAR=VALUE...]: `spin up` on a
# free port. STORE: sqlite (Spin's default SQLite file in STATE_DIR, a fresh
# temporary one when empty) or a redis:// URL (through a runtime config).
# Extra VAR=VALUE go to Spin's environment (SPIN_VARIABLE_*). Sets URL_<NAME>,
# PID_<NAME>, STATE_<NAME> (component logs in STATE/logs).
spin_serve() {
  local name=$1 manifest=$2 store=$3 state=${4:-}
  shift $(($# < 4 ? $# : 4))
  local port out=$work/spin-$name.out pid args=()
  [ -n "$state" ] || state=$(mktemp -d "$work/state-$name.XXXX")
  mkdir -p "$state"
  port=$(free_port)
  args=(up --from "$manifest" --listen "127.0.0.1:$port" --state-dir "$state")
  if [ "$store" != sqlite ]; then
    printf '[key_value_store.default]\ntype = "redis"\nurl = "%s"\n' "$store" >"$work/runtime-$name.toml"
    args+=(--runtime-config-file "$work/runtime-$name.toml")
  fi
  env "$@" "$SPIN" "${args[@]}" >"$out" 2>&1 &
  pid=$!
  bench_pids+=("$pid")
  for _ in $(seq 1 1200); do
    if grep -q '^Serving http://' "$out"; then
      printf -v "URL_$name" 'http://127.0.0.1:%s' "$port"
      printf -v "PID_$name" '%s' "$pid"
      printf -v "STATE_$name" '%s' "$state"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; die "spin up for $name exited"; }
    sleep 0.1
  done
  die "spin up for $name did not serve within 120 s (see $out)"
}

# stop_pid PID: stop a process started here, wait for it, and forget it (so
# the exit trap never signals a pid the system may since have reused).
stop_pid() {
  local pid=$1 p kept=()
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${bench_pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  bench_pids=("${kept[@]}")
}

# spin_stop NAME / redis_stop NAME: stop what spin_serve / redis_start started as NAME.
spin_stop() { local pidvar=PID_$1; stop_pid "${!pidvar}"; }
redis_stop() { local pidvar=PID_$1; stop_pid "${!pidvar}"; }

# CPU accounting: "others" = busy CPU time in /proc/stat during a load,
# minus the servers' and wrk's own, as a share of all cores.
ticks_busy() { awk '/^cpu / {print $2 + $3 + $4 + $9}' /proc/stat; } # user nice system steal
with_children() { # PIDS... -> those pids and all their descendants (`spin up` runs `spin trigger http` as a child)
  local p
  for p in "$@"; do
    echo "$p"
    with_children $(pgrep -P "$p" || true)
  done
}
ticks_of() { # PIDS... -> user+system ticks of those processes and their children (all their threads)
  local t=0 p v
  for p in $(with_children "$@"); do
    v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

# wrk_once OUT URL SCRIPT CONNS THREADS DURATION "SERVER_PIDS" [ENV=VALUE...]
# One wrk run; sets run_line (the script's RESULT line) and run_others (CPU %
# of other processes). SCRIPT is a path, or a name under bench/wrk.
wrk_once() {
  local out=$1 url=$2 script=$3 conns=$4 threads=$5 duration=$6 spids=$7; shift 7
  local wpid wrk_ticks=0 v busy0 srv0 t0 busy1 srv1 t1
  [ -f "$script" ] || script=$root/bench/wrk/$script
  read -r -a spids <<<"$spids"
  busy0=$(ticks_busy); srv0=$(ticks_of "${spids[@]}"); t0=$(date +%s%N)
  env "$@" BENCH_DIR="$root/bench" BENCH_RUN="r$RANDOM$RANDOM" \
    wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 30s -s "$script" "$url" >"$out" 2>&1 &
  wpid=$!
  while kill -0 "$wpid" 2>/dev/null; do
    v=$(ticks_of "$wpid"); [ "$v" -gt 0 ] && wrk_ticks=$v
    sleep 0.2
  done
  wait "$wpid" || { cat "$out" >&2; die "wrk failed"; }
  busy1=$(ticks_busy); srv1=$(ticks_of "${spids[@]}"); t1=$(date +%s%N)
  run_others=$(awk -v b=$((busy1 - busy0)) -v s=$((srv1 - srv0)) -v w="$wrk_ticks" -v ns=$((t1 - t0)) \
    -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
    'BEGIN { o = 100 * (b - s - w) / (ns / 1e9 * hz * n); if (o < 0) o = 0; printf "%.0f", o }')
  run_line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "no RESULT from wrk ($out)"; }
}

# wrk_best OUTPREFIX URL SCRIPT CONNS THREADS DURATION "SERVER_PIDS" [ENV=VALUE...]
# wrk_once, taken again (twice at most) while other processes used more than
# BUSY_PCT % of the CPU; the least disturbed run counts. Sets best_line,
# best_others and best_load (load average after that run).
wrk_best() {
  local prefix=$1; shift
  local attempt
  best_line="" best_others=101 best_load=""
  for attempt in 1 2 3; do
    sleep "${BENCH_PAUSE:-1}"
    wrk_once "$prefix-$attempt.txt" "$@"
    if [ "$run_others" -lt "$best_others" ]; then
      best_others=$run_others best_line=$run_line best_load=$(loadavg)
    fi
    [ "$run_others" -le "$BUSY_PCT" ] && break
    [ "$attempt" -lt 3 ] && printf '    disturbed: other processes used %s%% of the CPU; again\n' "$run_others"
  done
  return 0
}

# Glance: the project's own pinned install (tests/services/glance) in a
# private home on a free port, so no one else's Glance is touched. Sets
# URL_glance.
glance_dir() { echo "$root/tests/services/glance"; }
glance_home=${BENCH_GLANCE_HOME:-/tmp/image-tags-bench-glance}
glance_start() {
  local dir port
  dir=$(glance_dir)
  port=$(free_port)
  GLANCE_ORACLE_HOME=$glance_home bash "$dir/setup.sh" >/dev/null
  bench_on_exit+=("GLANCE_ORACLE_HOME='$glance_home' bash '$dir/stop.sh'")
  GLANCE_ORACLE_HOME=$glance_home GLANCE_PORT=$port GLANCE_FLAVOR=noauth-headers bash "$dir/start.sh" | sed 's/^/  /'
  URL_glance=http://127.0.0.1:$port
}
glance_pids() {
  local master
  master=$(cat "$glance_home/run/glance-api.pid" 2>/dev/null) || return 0
  echo "$master" $(pgrep -P "$master" || true)
}
