# Shared by start.sh and stop.sh: source it, do not run it.

# rcli PORT ARGS...: one redis-cli command on 127.0.0.1:PORT, given up after 3 s.
rcli() {
  local port=$1; shift
  timeout 3 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

# free_ports N: N distinct free 127.0.0.1 ports, one per line (all bound at once,
# so they differ; another process may still take one before we bind it).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

# wait_for SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds; fail after SECONDS.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "start.sh: $what not within $seconds s (logs in $home)" >&2
      return 1
    fi
    sleep 0.1
  done
}

# ours PID: the process is one this home started: its working directory is in the
# home (redis-server and redis-sentinel chdir to their `dir`), or its command line
# names the home (haproxy's config file).
ours() {
  local cwd cmd
  cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) || return 1
  case "$cwd/" in "$home"/*) return 0 ;; esac
  cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || return 1
  case "$cmd" in *"$home/"*) return 0 ;; esac
  return 1
}
