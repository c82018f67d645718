#!/usr/bin/env bash
# Stop the emulator start.sh started for this DYNAMODB_HOME (default
# /tmp/dynamodb-emulator): only the pid it recorded, and only if that pid is
# still this home's server.py. Never kills by name.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
home=${DYNAMODB_HOME:-/tmp/dynamodb-emulator}
[ -d "$home" ] || { echo "stop.sh: no $home, nothing to stop"; exit 0; }
home=$(cd "$home" && pwd)
pidfile=$home/run/dynamodb.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
[ -n "$pid" ] || { echo "stop.sh: no emulator recorded in $home"; exit 0; }

ours() {
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || return 1
  case "$cmd" in
    *python*" $home/run/server.py "*) return 0 ;;
  esac
  return 1
}
stop_recorded "DynamoDB emulator" "$pid" "$pidfile"
