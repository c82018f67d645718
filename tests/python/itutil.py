"""Helpers shared by the client tests (imported by the test modules)."""

import os
import pty
import subprocess
import sys
from pathlib import Path


VENV_BIN = Path(sys.executable).parent


def sdk(url, token, **kw):
    """An openstacksdk Connection with a static token, as `--os-auth-type admin_token` builds it."""
    from openstack import config, connection

    # no clouds.yaml and no OS_* variables: only what is given here
    region = config.get_cloud_region(
        load_yaml_config=False,
        load_envvars=False,
        auth_type="admin_token",
        auth={"endpoint": url, "token": token},
        image_endpoint_override=url,
        image_status_code_retries=0,  # no retry loop on a 503
        **kw,
    )
    return connection.Connection(config=region)


def glance_api(url, token):
    import glanceclient

    return glanceclient.Client("2", endpoint=url, token=token)


def cli(name, args, env, create=False, timeout=60):
    """Run a console script of the venv. `create=True` gives it a pty as stdin:
    `glance image-create` and `openstack image create` read a non-TTY stdin as
    image data and would upload it (PUT /v2/images/{id}/file)."""
    exe = VENV_BIN / name
    if not exe.exists():
        exe = name
    if create:
        master, slave = pty.openpty()
        try:
            r = subprocess.run([str(exe), *args], stdin=slave, capture_output=True, text=True, env=env,
                               timeout=timeout)
        finally:
            os.close(slave)
            os.close(master)
    else:
        r = subprocess.run([str(exe), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=env, timeout=timeout)
    return r


def table_rows(text):
    """Parse a prettytable (the glance CLI's only output format) into a list of cell lists."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def table_props(text):
    """`glance image-show`/`image-create` output as {Property: Value}."""
    return {r[0]: r[1] for r in table_rows(text)[1:] if len(r) == 2}
