#!/usr/bin/env bash
# Install the DynamoDB emulator (moto 5.2.6 from PyPI, with Flask for its
# WSGI app and boto3 for table.py) into a venv for start.sh. Every package is
# pinned by constraints.txt beside this script. Idempotent: a venv already
# installed from the same constraints.txt is left as it is.
#
# moto is an EMULATOR of DynamoDB's API, not DynamoDB: it is what lets CI run
# Spin's `aws_dynamo` store without an AWS account. See server.py for why it
# is served one request at a time.
#
# Knobs: DYNAMODB_HOME (state folder, default /tmp/dynamodb-emulator),
#        DYNAMODB_VENV (default $DYNAMODB_HOME/venv), PYTHON (default python3).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${DYNAMODB_HOME:-/tmp/dynamodb-emulator}
mkdir -p "$home"
home=$(cd "$home" && pwd)
venv=${DYNAMODB_VENV:-$home/venv}
py=${PYTHON:-python3}
constraints=$here/constraints.txt

stamp=$venv/installed-constraints.sha256
want=$(sha256sum "$constraints" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "install.sh: $venv is up to date (moto 5.2.6)"
  exit 0
fi
started=$SECONDS
if [ ! -x "$venv/bin/pip" ]; then
  "$py" -m venv "$venv" \
    || { echo "install.sh: '$py -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/pip" install -q -c "$constraints" 'moto[dynamodb]==5.2.6' flask flask-cors boto3
echo "$want" > "$stamp"
echo "install.sh: moto 5.2.6 installed in $venv in $((SECONDS - started)) s"
