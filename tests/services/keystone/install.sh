#!/usr/bin/env bash
# Install Keystone 30.0.0 (PyPI) and gunicorn into a venv for start.sh. Every
# package is pinned by constraints.txt beside this script, so a clone installs
# what the tests were run against. Idempotent: a venv already installed from
# the same constraints.txt is left as it is.
#
# Knobs: KEYSTONE_HOME (state folder, default /tmp/keystone-real),
#        KEYSTONE_VENV (default $KEYSTONE_HOME/venv),
#        PYTHON (interpreter, default python3; Keystone 30 needs >= 3.11).
# Needs PyPI (or a pip cache / find-links that has the pinned wheels).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${KEYSTONE_HOME:-/tmp/keystone-real}
mkdir -p "$home"
home=$(cd "$home" && pwd)
venv=${KEYSTONE_VENV:-$home/venv}
py=${PYTHON:-python3}
constraints=$here/constraints.txt

# The venv records which constraints it was built from: a changed pin reinstalls.
stamp=$venv/installed-constraints.sha256
want=$(sha256sum "$constraints" | cut -d' ' -f1)
if [ -x "$venv/bin/gunicorn" ] && [ -x "$venv/bin/keystone-manage" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "install.sh: $venv is up to date (keystone 30.0.0 + gunicorn)"
  exit 0
fi

"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install.sh: Keystone 30.0.0 needs Python >= 3.11 ($py is $("$py" --version 2>&1))" >&2; exit 1; }
started=$SECONDS
if [ ! -x "$venv/bin/pip" ]; then
  "$py" -m venv "$venv" \
    || { echo "install.sh: '$py -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/pip" install -q -c "$constraints" keystone==30.0.0 gunicorn
echo "$want" > "$stamp"
echo "install.sh: keystone 30.0.0 + gunicorn installed in $venv in $((SECONDS - started)) s"
