#!/usr/bin/env bash
# Start a real Keystone 30.0.0 (installed by install.sh) on 127.0.0.1 from
# nothing: new SQLite database, new fernet and credential keys, bootstrap,
# the test fixtures, then $KEYSTONE_HOME/fixtures.env (see fixtures.py).
# Stops this KEYSTONE_HOME's earlier instance first, so every start is fresh
# and the tokens of the previous one are invalid.
#
# Knobs (all optional):
#   KEYSTONE_HOME              state folder (default /tmp/keystone-real); nothing is written elsewhere
#   KEYSTONE_VENV              default $KEYSTONE_HOME/venv
#   KEYSTONE_PORT              default 5000 (the tests expect 5000)
#   KEYSTONE_TOKEN_EXPIRATION  token lifetime in seconds (default 3600, upstream's)
#   KEYSTONE_PROCESSES         gunicorn workers (default 1), KEYSTONE_THREADS threads each (default 1)
#   KEYSTONE_CACHE             memory | off; default memory with one process, else off
#   KEYSTONE_ADMIN_PASSWORD    bootstrap admin password (default admin-pw)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${KEYSTONE_HOME:-/tmp/keystone-real}
mkdir -p "$home"
home=$(cd "$home" && pwd)
export KEYSTONE_HOME=$home   # for stop.sh
venv=${KEYSTONE_VENV:-$home/venv}
port=${KEYSTONE_PORT:-5000}
expiration=${KEYSTONE_TOKEN_EXPIRATION:-3600}
processes=${KEYSTONE_PROCESSES:-1}
threads=${KEYSTONE_THREADS:-1}
export KEYSTONE_ADMIN_PASSWORD=${KEYSTONE_ADMIN_PASSWORD:-admin-pw}
run=$home/run
url=http://127.0.0.1:$port/v3

# dogpile's memory cache lives in one process: with several, a token revoked
# through one worker would still validate in another. Without a cache Keystone
# takes ~0.5 s per validation instead of a few ms.
if [ "$processes" = 1 ]; then cache=${KEYSTONE_CACHE:-memory}; else cache=${KEYSTONE_CACHE:-off}; fi
case "$cache" in
  memory) cache_enabled=true ;;
  off) cache_enabled=false ;;
  *) echo "start.sh: KEYSTONE_CACHE must be memory or off" >&2; exit 1 ;;
esac
[ -x "$venv/bin/keystone-manage" ] && [ -x "$venv/bin/gunicorn" ] \
  || { echo "start.sh: no Keystone venv at $venv: run $here/install.sh first (same KEYSTONE_HOME)" >&2; exit 1; }
command -v curl >/dev/null || { echo "start.sh: needs curl" >&2; exit 1; }
started=$(date +%s.%N)

bash "$here/stop.sh" >/dev/null
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "start.sh: 127.0.0.1:$port is taken by another process (pick another KEYSTONE_PORT)" >&2
  exit 1
fi

rm -rf "$run" "$home/fernet-keys" "$home/credential-keys" "$home/fixtures.env"
rm -f "$home"/keystone.sqlite*
mkdir -p "$run/etc"
mkdir -m 700 "$home/fernet-keys" "$home/credential-keys"
cd "$home"

cat > "$run/etc/keystone.conf" <<EOF
# written by start.sh; state in $home
[DEFAULT]
debug = false
use_stderr = true

[database]
connection = sqlite:///$home/keystone.sqlite

[token]
provider = fernet
expiration = $expiration

[fernet_tokens]
key_repository = $home/fernet-keys
max_active_keys = 3

# Receipts would otherwise want keys under /etc/keystone: share the token keys.
[fernet_receipts]
key_repository = $home/fernet-keys
max_active_keys = 3

[credential]
key_repository = $home/credential-keys

[identity]
# bcrypt's lowest cost: upstream's 12 costs ~0.25 s per password check
password_hash_rounds = 4
max_password_length = 72

[cache]
enabled = $cache_enabled
backend = dogpile.cache.memory
EOF

# keystone.server reads sys.argv through oslo.config, which rejects
# gunicorn's own arguments: give it a clean one before the import.
cat > "$run/keystone_app.py" <<'EOF'
import sys

sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
EOF
cat > "$run/gunicorn.conf.py" <<EOF
bind = "127.0.0.1:$port"
chdir = "$run"
pythonpath = "$run"
raw_env = ["OS_KEYSTONE_CONFIG_DIR=$run/etc"]
workers = $processes
threads = $threads
worker_class = "gthread"
keepalive = 5
timeout = 60
graceful_timeout = 5
control_socket_disable = True
pidfile = "$run/keystone.pid"
accesslog = "-"
errorlog = "-"
EOF

manage=("$venv/bin/keystone-manage" --config-file "$run/etc/keystone.conf")
# As root, keystone-manage wants to be told who owns the keys.
owner=()
[ "$(id -u)" != 0 ] || owner=(--keystone-user root --keystone-group root)
log=$run/manage.log
# The three are independent; side by side they save a few seconds.
"${manage[@]}" fernet_setup ${owner[@]+"${owner[@]}"} >"$run/fernet.log" 2>&1 & p1=$!
"${manage[@]}" credential_setup ${owner[@]+"${owner[@]}"} >"$run/credential.log" 2>&1 & p2=$!
"${manage[@]}" db_sync >"$run/db_sync.log" 2>&1 & p3=$!
failed=0
for p in $p1 $p2 $p3; do wait "$p" || failed=1; done
cat "$run/fernet.log" "$run/credential.log" "$run/db_sync.log" > "$log"
[ $failed = 0 ] || { echo "start.sh: key setup or db_sync failed, see $log" >&2; exit 1; }
"${manage[@]}" bootstrap --bootstrap-password "$KEYSTONE_ADMIN_PASSWORD" \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
  --bootstrap-region-id RegionOne --bootstrap-public-url "$url/" \
  --bootstrap-internal-url "$url/" --bootstrap-admin-url "$url/" >>"$log" 2>&1 \
  || { echo "start.sh: bootstrap failed, see $log" >&2; exit 1; }
prepared=$(date +%s.%N)

# Access and error log both go to keystone.log: the tests count image-tags'
# validations there (the user agent is in gunicorn's access line).
: > "$home/keystone.log"
OS_KEYSTONE_CONFIG_DIR=$run/etc PYTHONDONTWRITEBYTECODE=1 \
  nohup "$venv/bin/gunicorn" -c "$run/gunicorn.conf.py" keystone_app:application \
  >>"$home/keystone.log" 2>&1 </dev/null &
echo $! > "$run/keystone.pid"
deadline=$((SECONDS + 60))
until [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" || true)" = 200 ]; do
  if ! kill -0 "$(cat "$run/keystone.pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "start.sh: Keystone did not come up on $url; end of $home/keystone.log:" >&2
    tail -20 "$home/keystone.log" >&2
    bash "$here/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.2
done
serving=$(date +%s.%N)

"$venv/bin/python" "$here/fixtures.py" "$url" "$home/fixtures.env" \
  || { echo "start.sh: fixtures failed (Keystone left running; $here/stop.sh stops it)" >&2; exit 1; }
done_at=$(date +%s.%N)
echo "keystone 30.0.0 up on $url (pid $(cat "$run/keystone.pid"), $processes x $threads, cache $cache, tokens ${expiration} s)"
awk -v a="$started" -v b="$prepared" -v c="$serving" -v d="$done_at" \
  'BEGIN { printf "start.sh: db+keys+bootstrap %.1f s, server %.1f s, fixtures %.1f s, total %.1f s\n", b-a, c-b, d-c, d-a }'
echo "fixtures: $home/fixtures.env"
