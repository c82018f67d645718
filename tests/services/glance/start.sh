#!/usr/bin/env bash
# Start the real Glance 33.0.0 installed by setup.sh, under uWSGI (one process,
# one thread: SQLite locks under more) on 127.0.0.1, with a fresh SQLite
# database and image store unless GLANCE_KEEP_DB=1. Stops this home's earlier
# instance first.
#
# Knobs (all optional):
#   GLANCE_ORACLE_HOME  state folder (default /tmp/glance-oracle); nothing is written elsewhere
#   GLANCE_PORT         default 9292
#   GLANCE_TAG_QUOTA    image_tag_quota (default 128, upstream's)
#   GLANCE_FLAVOR       noauth-headers (default: identity from X-Identity-Status,
#                       X-Project-Id, X-Roles) | keystone (real tokens; reads KEYSTONE_URL,
#                       SERVICE_USER, SERVICE_PASSWORD from Keystone's fixtures.env)
#                       | unauth (upstream's no-auth context: every caller an admin)
#   GLANCE_KEEP_DB=1    keep the database and images of the previous run
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${GLANCE_ORACLE_HOME:-/tmp/glance-oracle}
mkdir -p "$home"
home=$(cd "$home" && pwd)
export GLANCE_ORACLE_HOME=$home   # for stop.sh
port=${GLANCE_PORT:-9292}
quota=${GLANCE_TAG_QUOTA:-128}
case "${GLANCE_FLAVOR:-noauth-headers}" in
  noauth-headers) flavor=noauth-headers ;;
  keystone) flavor=keystone ;;
  unauth) flavor= ;;
  *) echo "start.sh: GLANCE_FLAVOR must be noauth-headers, keystone or unauth" >&2; exit 1 ;;
esac
run=$home/run
[ -x "$home/venv/bin/uwsgi" ] && [ -f "$home/glance-api-paste.ini" ] \
  || { echo "start.sh: Glance is not set up in $home: run $here/setup.sh first" >&2; exit 1; }
command -v curl >/dev/null || { echo "start.sh: needs curl" >&2; exit 1; }
started=$(date +%s.%N)

bash "$here/stop.sh" >/dev/null
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "start.sh: 127.0.0.1:$port is taken by another process (pick another GLANCE_PORT)" >&2
  exit 1
fi
if [ "${GLANCE_KEEP_DB:-0}" != 1 ]; then
  rm -rf "$home/images" "$home/staging" "$home/tasks"
  rm -f "$home"/glance.sqlite*
fi
rm -rf "$run"
mkdir -p "$run/etc" "$run/locks" "$home/images" "$home/staging" "$home/tasks"
cd "$home"

cat > "$run/etc/glance-api.conf" <<EOF
# written by start.sh; uWSGI owns the socket, so no bind_host/bind_port here
[DEFAULT]
debug = false
use_stderr = true
image_tag_quota = $quota
enabled_backends = fs:file
enabled_import_methods = []
show_image_direct_url = false

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $home/images/

[os_glance_staging_store]
filesystem_store_datadir = $home/staging/

[os_glance_tasks_store]
filesystem_store_datadir = $home/tasks/

[database]
connection = sqlite:///$home/glance.sqlite

[paste_deploy]
flavor = $flavor
config_file = $home/glance-api-paste.ini

[oslo_concurrency]
lock_path = $run/locks

[keystone_authtoken]
# only read by flavor keystone
www_authenticate_uri = ${KEYSTONE_URL:-http://127.0.0.1:5000/v3}
auth_url = ${KEYSTONE_URL:-http://127.0.0.1:5000/v3}
auth_type = password
username = ${SERVICE_USER:-svc}
password = ${SERVICE_PASSWORD:-svc-pw}
project_name = service
user_domain_name = Default
project_domain_name = Default
EOF

cat > "$run/uwsgi.ini" <<EOF
[uwsgi]
http = 127.0.0.1:$port
http-keepalive = 1
socket = $run/uwsgi.sock
module = glance.wsgi.api:application
virtualenv = $home/venv
env = OS_GLANCE_CONFIG_DIR=$run/etc
chdir = $home
master = true
processes = 1
threads = 1
enable-threads = true
lazy-apps = true
die-on-term = true
exit-on-reload = true
need-app = true
socket-timeout = 10
buffer-size = 65535
http-auto-chunked = true
http-chunked-input = true
EOF

"$home/venv/bin/glance-manage" --config-file "$run/etc/glance-api.conf" db sync >"$run/db-sync.log" 2>&1 \
  || { echo "start.sh: glance-manage db sync failed, see $run/db-sync.log" >&2; exit 1; }
synced=$(date +%s.%N)

: > "$home/glance-api.log"
OS_GLANCE_CONFIG_DIR=$run/etc nohup "$home/venv/bin/uwsgi" --ini "$run/uwsgi.ini" --pidfile "$run/glance-api.pid" \
  >>"$home/glance-api.log" 2>&1 </dev/null &
echo $! > "$run/glance-api.pid"
deadline=$((SECONDS + 90))
until [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port/healthcheck" || true)" = 200 ]; do
  if ! kill -0 "$(cat "$run/glance-api.pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "start.sh: Glance did not come up on 127.0.0.1:$port; end of $home/glance-api.log:" >&2
    tail -20 "$home/glance-api.log" >&2
    bash "$here/stop.sh" >&2 || true
    exit 1
  fi
  sleep 0.3
done
up=$(date +%s.%N)
echo "glance 33.0.0 up on http://127.0.0.1:$port (pid $(cat "$run/glance-api.pid"), flavor '${GLANCE_FLAVOR:-noauth-headers}', tag quota $quota)"
awk -v a="$started" -v b="$synced" -v c="$up" \
  'BEGIN { printf "start.sh: db sync %.1f s, server %.1f s, total %.1f s\n", b-a, c-b, c-a }'
