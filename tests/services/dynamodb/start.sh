#!/usr/bin/env bash
# Start the DynamoDB emulator (moto, one request at a time: server.py) on a
# free 127.0.0.1 port, create the table Spin's `aws_dynamo` store needs, and
# write two files into DYNAMODB_HOME:
#
#   dynamodb.env            AWS_* variables for Spin (and for table.py):
#                           endpoint, region, dummy credentials, no IMDS
#   runtime-config.toml     [key_value_store.default] type = "aws_dynamo"
#
# Then prints both paths. Run Spin with the env file's variables exported:
#
#   set -a; . /tmp/dynamodb-emulator/dynamodb.env; set +a
#   spin up --runtime-config-file /tmp/dynamodb-emulator/runtime-config.toml
#
# Spin reads the endpoint only from AWS_ENDPOINT_URL(_DYNAMODB), and only when
# the runtime config carries no access_key/secret_key (spin-aws-dynamo.md).
#
# Knobs: DYNAMODB_HOME (default /tmp/dynamodb-emulator), DYNAMODB_VENV
# (default $DYNAMODB_HOME/venv), DYNAMODB_TABLE (default image-tags).
# A server this home already runs is stopped first; the store starts empty.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${DYNAMODB_HOME:-/tmp/dynamodb-emulator}
mkdir -p "$home/run"
home=$(cd "$home" && pwd)
venv=${DYNAMODB_VENV:-$home/venv}
table=${DYNAMODB_TABLE:-image-tags}
[ -x "$venv/bin/python" ] || { echo "start.sh: no emulator in $venv: run $here/install.sh first" >&2; exit 1; }

bash "$here/stop.sh" >/dev/null
portfile=$home/run/port
rm -f "$portfile"
started=$SECONDS
# The script is copied into run/: its path in the command line is what
# stop.sh checks before it signals the pid.
cp "$here/server.py" "$home/run/server.py"
nohup "$venv/bin/python" "$home/run/server.py" "$portfile" >"$home/server.log" 2>&1 </dev/null &
echo $! >"$home/run/dynamodb.pid"
for _ in $(seq 1 300); do
  [ -s "$portfile" ] && break
  kill -0 "$(cat "$home/run/dynamodb.pid")" 2>/dev/null \
    || { echo "start.sh: the emulator exited; log $home/server.log:" >&2; tail -20 "$home/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$portfile" ] || { echo "start.sh: the emulator did not listen within 30 s; log $home/server.log" >&2; exit 1; }
port=$(cat "$portfile")
endpoint=http://127.0.0.1:$port

# Dummy credentials (the emulator checks no signature); no profile files and
# no instance metadata lookups, so the AWS SDK in Spin starts at once.
cat >"$home/dynamodb.env" <<ENV
AWS_ENDPOINT_URL_DYNAMODB=$endpoint
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=emulator
AWS_SECRET_ACCESS_KEY=emulator
AWS_EC2_METADATA_DISABLED=true
AWS_CONFIG_FILE=$home/no-aws-config
AWS_SHARED_CREDENTIALS_FILE=$home/no-aws-credentials
DYNAMODB_ENDPOINT=$endpoint
DYNAMODB_PYTHON=$venv/bin/python
DYNAMODB_TABLE_SCRIPT=$here/table.py
ENV
cat >"$home/runtime-config.toml" <<TOML
# Spin's DynamoDB store on the local emulator (endpoint: AWS_ENDPOINT_URL_DYNAMODB).
[key_value_store.default]
type = "aws_dynamo"
region = "us-east-1"
table = "$table"
consistent_read = true
TOML
(set -a; . "$home/dynamodb.env"; set +a; "$venv/bin/python" "$here/table.py" "$endpoint" "$table" --fresh)
echo "start.sh: DynamoDB emulator (moto) at $endpoint, table $table, in $((SECONDS - started)) s"
echo "env: $home/dynamodb.env"
echo "runtime config: $home/runtime-config.toml"
