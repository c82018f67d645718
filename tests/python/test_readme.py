"""The README's Huawei SDK snippet, run as written against a server started as the README says
(auth_mode=aksk and its one credential), with only the endpoint moved to this server's port."""

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, Host


def readme_block(after):
    text = (REPO / "README.md").read_text()
    section = text[text.index(after):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_sdk_snippet_works_as_written(logdir, tmp_path):
    code = readme_block("**SDK.**")
    command = re.search(r"SPIN_VARIABLE_AUTH_MODE=(\S+) SPIN_VARIABLE_AKSK_CREDENTIALS='([^']+)' spin up",
                        (REPO / "README.md").read_text())
    server = Host("readme", logdir, {"auth_mode": command.group(1), "aksk_credentials": command.group(2)})
    try:
        assert "http://127.0.0.1:3000" in code
        script = Path(tmp_path) / "snippet.py"
        script.write_text(code.replace("http://127.0.0.1:3000", server.url))
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert '"key": "env"' in r.stdout and '"value": "prod"' in r.stdout, r.stdout
    finally:
        server.stop()
