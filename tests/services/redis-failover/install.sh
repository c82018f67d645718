#!/usr/bin/env bash
# Install what the failover setup runs, if missing: Debian's redis-server,
# redis-sentinel and haproxy (apt-get, as root or through sudo -n). Idempotent:
# does nothing when all three are on PATH. The packages' own system services
# (if the machine starts them) listen on the well-known ports; start.sh uses
# free ports of its own and leaves those alone.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v haproxy >/dev/null || PATH=$PATH:/usr/sbin command -v haproxy >/dev/null || missing+=(haproxy)
[ ${#missing[@]} -gt 0 ] || exit 0
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null \
    || { echo "install.sh: missing ${missing[*]}: install them (apt-get install ${missing[*]})" >&2; exit 1; }
  sudo=(sudo -n)
fi
command -v apt-get >/dev/null \
  || { echo "install.sh: missing ${missing[*]} and no apt-get: install them" >&2; exit 1; }
echo "install.sh: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
