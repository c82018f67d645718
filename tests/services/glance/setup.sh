#!/usr/bin/env bash
# Install upstream Glance 33.0.0 and uWSGI 2.0.31 (PyPI) into
# $GLANCE_ORACLE_HOME/venv, every package pinned by constraints.txt beside this
# script, and derive $GLANCE_ORACLE_HOME/glance-api-paste.ini from the paste
# config the package ships. Idempotent; a changed constraints.txt reinstalls.
#
# The derived paste config adds a 'noauth-headers' flavor: upstream's keystone
# pipeline without authtoken, so Glance's context middleware builds the request
# context from X-Identity-Status / X-Project-Id / X-Roles, as it would after
# keystonemiddleware. That is image-tags' auth_mode=headers contract.
#
# Knobs: GLANCE_ORACLE_HOME (default /tmp/glance-oracle), PYTHON (default python3).
# uWSGI is built from its sdist: it needs a C compiler and the Python headers
# (Debian: gcc python3-dev).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${GLANCE_ORACLE_HOME:-/tmp/glance-oracle}
mkdir -p "$home"
home=$(cd "$home" && pwd)
venv=$home/venv
py=${PYTHON:-python3}
constraints=$here/constraints.txt
stamp=$venv/installed-constraints.sha256
want=$(sha256sum "$constraints" | cut -d' ' -f1)

started=$SECONDS
if [ -x "$venv/bin/uwsgi" ] && [ -x "$venv/bin/glance-manage" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "setup.sh: $venv is up to date (glance 33.0.0 + uwsgi 2.0.31)"
else
  if [ ! -x "$venv/bin/pip" ]; then
    "$py" -m venv "$venv" \
      || { echo "setup.sh: '$py -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
  fi
  "$venv/bin/pip" install -q -c "$constraints" glance==33.0.0 uwsgi==2.0.31 \
    || { echo "setup.sh: pip install failed (uWSGI's build needs gcc and the Python headers)" >&2; exit 1; }
  echo "$want" > "$stamp"
  echo "setup.sh: glance 33.0.0 + uwsgi 2.0.31 installed in $venv in $((SECONDS - started)) s"
fi

shipped=$venv/etc/glance/glance-api-paste.ini
[ -f "$shipped" ] || { echo "setup.sh: the glance package has no $shipped" >&2; exit 1; }
"$venv/bin/python" - "$shipped" "$home/glance-api-paste.ini" "$home" <<'PY'
import sys

shipped, out, home = sys.argv[1:]
lines = open(shipped).read().splitlines()
result, section, derived = [], None, False
for line in lines:
    if line.startswith("["):
        section = line.strip()
    # A healthcheck can be switched off by a file; keep that file in our home.
    line = line.replace("/etc/glance/healthcheck_disable", f"{home}/run/healthcheck_disable")
    result.append(line)
    name, _, pipeline = line.partition("=")
    if section == "[composite:api]" and name.strip() == "keystone":
        filters = pipeline.split()
        if "authtoken" not in filters:
            sys.exit(f"setup.sh: the keystone pipeline has no authtoken: {line!r}")
        filters.remove("authtoken")
        result.append("noauth-headers = " + " ".join(filters))
        derived = True
if not derived:
    sys.exit("setup.sh: no keystone pipeline under [composite:api] in " + shipped)
result += [
    "",
    "# flavor noauth-headers: identity from the X-Roles/X-Project-Id headers (see setup.sh)",
    "[composite:glance-api-noauth-headers]",
    "paste.composite_factory = glance.api:root_app_factory",
    "/: api",
    "/healthcheck: healthcheck",
]
with open(out, "w") as f:
    f.write("\n".join(result) + "\n")
PY
echo "setup.sh: $home/glance-api-paste.ini written (flavors: noauth-headers, keystone, unauth)"
