#!/usr/bin/env bash
# A Redis that fails over behind one stable address, on free 127.0.0.1 ports:
#
#   redis0 (primary) --replicates to--> redis1 [.. redisN]   Debian's redis-server
#   3 redis-sentinel processes monitoring the primary (quorum 2), which promote
#   a replica when the primary is down for FAILOVER_DOWN_AFTER_MS
#   haproxy (TCP) -> only the instance whose `INFO replication` says role:master;
#   connections to an instance marked down are cut (on-marked-down shutdown-sessions)
#
# Clients (Spin) use redis://127.0.0.1:$FAILOVER_HAPROXY_PORT only. No data is
# persisted (no RDB, no AOF): a killed instance comes back empty, and only as a
# replica (rejoin.sh). Prints the path of failover.env (ports, pids, URL) on stdout;
# stop.sh HOME stops it all. On failure, start.sh stops what it started.
#
# Three sentinels, quorum 2: one would do on one machine (a failover needs a
# majority of the sentinels, and 1 of 1 is one), but it would be the single point
# of failure the setup is there to remove, and three cost ~1 s more of start-up
# (they find each other through the primary's hello channel, every 2 s).
#
# Knobs (all optional):
#   FAILOVER_HOME              state folder (default: a new /tmp/redis-failover-XXXXXX); stopped first if in use
#   FAILOVER_REPLICAS          replicas of the primary (default 1)
#   FAILOVER_MIN_REPLICAS      min-replicas-to-write on every instance (default 0: off)
#   FAILOVER_MIN_REPLICAS_LAG  min-replicas-max-lag in seconds (default 10, Redis's)
#   FAILOVER_DOWN_AFTER_MS     sentinel down-after-milliseconds (default 1000)
#   FAILOVER_TIMEOUT_MS        sentinel failover-timeout (default 3000)
#   FAILOVER_CHECK_INTER_MS    haproxy check interval (default 250; fall 2, rise 2)
#   FAILOVER_HOLD_S            seconds haproxy holds a new connection while no primary is up (default 20)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bash "$here/install.sh"
PATH=$PATH:/usr/sbin   # haproxy, for a non-root user
if [ -n "${FAILOVER_HOME:-}" ]; then
  mkdir -p "$FAILOVER_HOME"
  FAILOVER_HOME=$FAILOVER_HOME bash "$here/stop.sh" >/dev/null
else
  FAILOVER_HOME=$(mktemp -d /tmp/redis-failover-XXXXXX)
fi
home=$(cd "$FAILOVER_HOME" && pwd)
trap 'echo "start.sh: failed; stopping what it started in $home" >&2; bash "$here/stop.sh" "$home" >&2' ERR
replicas=${FAILOVER_REPLICAS:-1}
min_replicas=${FAILOVER_MIN_REPLICAS:-0}
min_lag=${FAILOVER_MIN_REPLICAS_LAG:-10}
down_after=${FAILOVER_DOWN_AFTER_MS:-1000}
failover_timeout=${FAILOVER_TIMEOUT_MS:-3000}
inter=${FAILOVER_CHECK_INTER_MS:-250}
hold_s=${FAILOVER_HOLD_S:-20}
sentinels=3
quorum=2
master=image-tags
started=$(date +%s.%N)

rm -rf "${home:?}"/redis* "$home"/sentinel* "$home"/haproxy* "$home/failover.env"
mapfile -t ports < <(free_ports $((1 + replicas + sentinels + 2)))
redis_ports=("${ports[@]:0:$((1 + replicas))}")
sentinel_ports=("${ports[@]:$((1 + replicas)):$sentinels}")
haproxy_port=${ports[-2]}
hold_port=${ports[-1]}

# --- Redis: redis0 is the first primary, the others replicate it ------------------
for i in "${!redis_ports[@]}"; do
  dir=$home/redis$i
  mkdir -p "$dir"
  args=(--port "${redis_ports[$i]}" --bind 127.0.0.1 --dir "$dir" --daemonize yes
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
        --save '' --appendonly no
        --repl-diskless-sync yes --repl-diskless-sync-delay 0
        --min-replicas-to-write "$min_replicas" --min-replicas-max-lag "$min_lag")
  [ "$i" = 0 ] || args+=(--replicaof 127.0.0.1 "${redis_ports[0]}")
  redis-server "${args[@]}"
done
for i in "${!redis_ports[@]}"; do
  wait_for 10 "redis$i answering" sh -c "[ \"\$(timeout 3 redis-cli -p ${redis_ports[$i]} ping 2>/dev/null)\" = PONG ]"
done
synced() { rcli "$1" info replication | grep -q '^master_link_status:up'; }
for i in "${!redis_ports[@]}"; do
  [ "$i" = 0 ] || wait_for 20 "redis$i in sync with redis0" synced "${redis_ports[$i]}"
done

# --- Sentinels ----------------------------------------------------------------------
for i in "${!sentinel_ports[@]}"; do
  dir=$home/sentinel$i
  mkdir -p "$dir"
  # Sentinel rewrites its config file as it learns: it must be writable and its own.
  cat > "$dir/sentinel.conf" <<CONF
port ${sentinel_ports[$i]}
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor $master 127.0.0.1 ${redis_ports[0]} $quorum
sentinel down-after-milliseconds $master $down_after
sentinel failover-timeout $master $failover_timeout
sentinel parallel-syncs $master 1
CONF
  if command -v redis-sentinel >/dev/null; then
    redis-sentinel "$dir/sentinel.conf"
  else
    redis-server "$dir/sentinel.conf" --sentinel
  fi
done
# Ready when every sentinel knows the others and every replica: a failover needs both.
sentinel_ready() {
  local info
  info=$(rcli "$1" sentinel master "$master" | paste -sd' ') || return 1
  [[ " $info " == *" num-other-sentinels $((sentinels - 1)) "* && " $info " == *" num-slaves $replicas "* ]]
}
for p in "${sentinel_ports[@]}"; do
  wait_for 30 "sentinel $p knowing the others and the replicas" sentinel_ready "$p"
done

# --- haproxy: the one address clients use -------------------------------------------
dir=$home/haproxy
mkdir -p "$dir"
{
  cat <<CONF
global
    log stdout format iso local0 info
    stats socket $dir/admin.sock mode 600 level admin
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout check 1s
    # Redis clients keep idle connections open: do not cut them.
    timeout client 1h
    timeout server 1h
frontend redis
    bind 127.0.0.1:$haproxy_port
    default_backend redis_primary
backend redis_primary
    # Route only to the instance that says it is the primary. A replica answers the
    # check with role:slave and gets no traffic; a dead one fails to connect.
    option tcp-check
    tcp-check connect
    tcp-check send PING\r\n
    tcp-check expect string +PONG
    # QUIT in the same write: the instance answers and closes, so a replica fails the
    # check at once instead of when \`timeout check\` expires.
    tcp-check send info\ replication\r\nQUIT\r\n
    tcp-check expect string role:master
    # on-marked-down shutdown-sessions: clients still connected to a primary that
    # went down (or was demoted) are cut, so they reconnect to the new one.
    default-server check inter ${inter}ms fall 2 rise 2 on-marked-down shutdown-sessions
    # While no instance is the primary (from the kill until Sentinel has promoted a
    # replica and the check saw it twice), hold new connections instead of closing
    # them: they go to \`hold\`, a TCP port that is bound and never listened on, so it
    # refuses; haproxy retries a refused connection after 1 s (retries), choosing the
    # server again each time (redispatch 1), and an active server wins over the backup
    # as soon as one is up. Why: Spin's Redis client (redis-rs 0.32 ConnectionManager)
    # makes a second connection attempt 1-2 s after a failed one and the third 60-120 s
    # later, every store call waiting meanwhile; haproxy closes a connection at once
    # when no server is up, so without the hold Spin stalls for a minute or more
    # (measured: no request answered for 90 s). (A unix socket as hold does not work:
    # haproxy retries a refused unix connect at once, 40 retries in 0 ms.)
    retries $hold_s
    option redispatch 1
    server hold 127.0.0.1:$hold_port backup no-check
CONF
  for i in "${!redis_ports[@]}"; do
    echo "    server redis$i 127.0.0.1:${redis_ports[$i]}"
  done
} > "$dir/haproxy.cfg"
# The hold port: bound (so nothing else can listen there) and never listened on, so
# every connection to it is refused. A small process of this home keeps it.
(cd "$dir" && exec nohup python3 -c 'import signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
signal.pause()' "$hold_port" >/dev/null 2>&1 </dev/null) &
echo $! > "$dir/hold.pid"
haproxy -c -q -f "$dir/haproxy.cfg"
nohup haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 </dev/null &
echo $! > "$dir/haproxy.pid"
# haproxy starts every server as up and takes them down after \`fall\` failed checks:
# wait until it routes to redis0 only (and show its view: server name, status).
server_states() {
  python3 - "$dir/admin.sock" <<'PY'
import csv, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
print(" ".join(f"{r['svname']}={r['status']}" for r in rows if r["pxname"] == "redis_primary"
               and r["svname"].startswith("redis")))
PY
}
routes_to_redis0_only() {
  local want="redis0=UP" i
  for i in "${!redis_ports[@]}"; do [ "$i" = 0 ] || want+=" redis$i=DOWN"; done
  [ "$(server_states 2>/dev/null)" = "$want" ] \
    && [ "$(rcli "$haproxy_port" info server | tr -d '\r' | sed -n 's/^tcp_port://p')" = "${redis_ports[0]}" ]
}
wait_for 15 "haproxy routing to redis0 only" routes_to_redis0_only

cat > "$home/failover.env" <<ENV
FAILOVER_HOME=$home
FAILOVER_REDIS_URL=redis://127.0.0.1:$haproxy_port
FAILOVER_HAPROXY_PORT=$haproxy_port
FAILOVER_REDIS_PORTS="${redis_ports[*]}"
FAILOVER_PRIMARY_PORT=${redis_ports[0]}
FAILOVER_PRIMARY_PIDFILE=$home/redis0/redis.pid
FAILOVER_SENTINEL_PORTS="${sentinel_ports[*]}"
FAILOVER_MASTER_NAME=$master
FAILOVER_MIN_REPLICAS=$min_replicas
FAILOVER_MIN_REPLICAS_LAG=$min_lag
ENV
echo "start.sh: redis ${redis_ports[*]} (primary ${redis_ports[0]}), sentinels ${sentinel_ports[*]}," \
  "haproxy 127.0.0.1:$haproxy_port; min-replicas-to-write $min_replicas;" \
  "$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)") s" >&2
echo "$home/failover.env"
