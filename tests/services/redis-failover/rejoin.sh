#!/usr/bin/env bash
# Bring instance redisN of a failover home back after it died (tests: after the
# primary was killed), as a replica of the primary the sentinels agree on now:
#
#   rejoin.sh HOME N
#
# Never restart a failed primary as a primary: it would answer role:master, and
# haproxy would route writes to it (rise 2 x inter) before Sentinel demotes it,
# writes that are then discarded when it resyncs from the real primary.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
home=$(cd "${1:?HOME}" && pwd)
n=${2:?N}
. "$home/failover.env"
read -r -a ports <<< "$FAILOVER_REDIS_PORTS"
read -r -a sentinels <<< "$FAILOVER_SENTINEL_PORTS"
port=${ports[$n]:?no redis$n in $home}
dir=$home/redis$n
pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
if [ -n "$pid" ] && ours "$pid"; then
  echo "rejoin.sh: redis$n (pid $pid) is running" >&2
  exit 1
fi
primary=
for s in "${sentinels[@]}"; do
  primary=$(rcli "$s" sentinel get-master-addr-by-name "$FAILOVER_MASTER_NAME" | paste -sd' ') && [ -n "$primary" ] && break
done
[ -n "$primary" ] || { echo "rejoin.sh: no sentinel names a primary" >&2; exit 1; }
[ "$primary" != "127.0.0.1 $port" ] || { echo "rejoin.sh: redis$n is still the primary for the sentinels" >&2; exit 1; }
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save '' --appendonly no \
  --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
  --min-replicas-to-write "$FAILOVER_MIN_REPLICAS" --min-replicas-max-lag "$FAILOVER_MIN_REPLICAS_LAG" \
  --replicaof $primary
synced() { rcli "$port" info replication | grep -q '^master_link_status:up'; }
wait_for 20 "redis$n in sync with $primary" synced
echo "rejoin.sh: redis$n on $port replicates $primary" >&2
