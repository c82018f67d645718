"""Create the test fixtures in a freshly bootstrapped Keystone and write them,
with fresh tokens, to an env file.

    fixtures.py KEYSTONE_URL OUT_FILE      (start.sh runs it with the venv's python)

Everything goes through Keystone's own v3 API, as an operator would do it;
stdlib only. KEYSTONE_ADMIN_PASSWORD must be the bootstrap password.

Fixtures, all in the "default" domain:
    proj-a, proj-b, service      projects (admin is made by bootstrap)
    alice   member  on proj-a    (member implies reader)
    bob     member  on proj-b
    rita    reader  on proj-a
    svc     service on service   (upstream policy lets it validate any token)
    admin   admin   on admin and on the system (bootstrap)

OUT_FILE has one VAR=value line each, values free of shell metacharacters,
so it can be sourced by a shell and split on the first '=' by the tests.
"""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse

DOMAIN = "default"
# name -> (env prefix, password, project, role)
USERS = {
    "alice": ("ALICE", "alice-pw", "proj-a", "member"),
    "bob": ("BOB", "bob-pw", "proj-b", "member"),
    "rita": ("RITA", "rita-pw", "proj-a", "reader"),
    "svc": ("SERVICE", "svc-pw", "service", "service"),
}
PROJECTS = ("proj-a", "proj-b", "service")
ROLES = ("admin", "manager", "member", "reader", "service")


class Keystone:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.prefix = parts.path.rstrip("/")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def call(self, method, path, want, token=None, subject=None, body=None):
        headers = {}
        if token:
            headers["X-Auth-Token"] = token
        if subject:
            headers["X-Subject-Token"] = subject
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, self.prefix + path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status != want:
            sys.exit(f"fixtures.py: {method} {path}: HTTP {resp.status}, expected {want}: {raw[:400]!r}")
        return resp.getheader("X-Subject-Token"), (json.loads(raw) if raw else None)

    def token(self, user, password, project_scope):
        """A password token scoped to a project: (token, token body)."""
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": DOMAIN}, "password": password}}},
            "scope": {"project": project_scope}}
        token, body = self.call("POST", "/auth/tokens", 201, body={"auth": auth})
        return token, body["token"]


def main():
    url, out = sys.argv[1], sys.argv[2]
    admin_password = os.environ.get("KEYSTONE_ADMIN_PASSWORD", "admin-pw")
    ks = Keystone(url)

    ks.call("GET", "/projects", 401)  # policy is enforced: no token, no listing
    admin, admin_body = ks.token("admin", admin_password, {"name": "admin", "domain": {"id": DOMAIN}})
    _, body = ks.call("GET", "/roles", 200, token=admin)
    role_ids = {r["name"]: r["id"] for r in body["roles"]}
    missing = [r for r in ROLES if r not in role_ids]
    if missing:
        sys.exit(f"fixtures.py: bootstrap made no role {missing}")

    project_ids = {"admin": admin_body["project"]["id"]}
    for name in PROJECTS:
        _, body = ks.call("POST", "/projects", 201, token=admin, body={"project": {
            "name": name, "domain_id": DOMAIN, "description": "image-tags test fixture"}})
        project_ids[name] = body["project"]["id"]

    env = {
        "KEYSTONE_URL": url,
        "OS_AUTH_URL": url,
        "OS_IDENTITY_API_VERSION": "3",
        "KEYSTONE_DOMAIN_ID": DOMAIN,
        "PROJ_A_ID": project_ids["proj-a"],
        "PROJ_B_ID": project_ids["proj-b"],
        "SERVICE_PROJECT_ID": project_ids["service"],
        "ADMIN_PROJECT_ID": project_ids["admin"],
        "ADMIN_USER": "admin",
        "ADMIN_PASSWORD": admin_password,
        "ADMIN_USER_ID": admin_body["user"]["id"],
        "ADMIN_TOKEN": admin,
    }
    for name, (prefix, password, project, role) in USERS.items():
        _, body = ks.call("POST", "/users", 201, token=admin, body={"user": {
            "name": name, "domain_id": DOMAIN, "password": password}})
        user_id = body["user"]["id"]
        ks.call("PUT", f"/projects/{project_ids[project]}/users/{user_id}/roles/{role_ids[role]}", 204, token=admin)
        env[f"{prefix}_USER"] = name
        env[f"{prefix}_PASSWORD"] = password
        env[f"{prefix}_USER_ID"] = user_id
    for name, (prefix, password, project, _) in USERS.items():
        token, body = ks.token(name, password, {"id": project_ids[project]})
        env[f"{prefix}_TOKEN"] = token
        if name == "alice":
            env["TOKENS_EXPIRE_AT"] = body["expires_at"]
    for role in ROLES:
        env[f"ROLE_{role.upper()}_ID"] = role_ids[role]

    # A token that was valid once and is revoked by its own holder.
    revoked, _ = ks.token("alice", USERS["alice"][1], {"id": project_ids["proj-a"]})
    ks.call("DELETE", "/auth/tokens", 204, token=revoked, subject=revoked)
    ks.call("GET", "/auth/tokens", 404, token=admin, subject=revoked)
    env["REVOKED_TOKEN"] = revoked

    # Every token handed out validates, each by itself.
    for key, token in env.items():
        if key.endswith("_TOKEN") and key != "REVOKED_TOKEN":
            ks.call("GET", "/auth/tokens?nocatalog", 200, token=token, subject=token)

    for key, value in env.items():
        if not re.fullmatch(r"[A-Za-z0-9_.:/@%+,=-]+", value):
            sys.exit(f"fixtures.py: {key}={value!r} would need shell quoting")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"# Keystone fixtures, written {time.strftime('%Y-%m-%dT%H:%M:%S%z')} by start.sh;\n")
        f.write("# the tokens stop working at the next start.sh (new keys, new database)\n")
        f.writelines(f"{k}={v}\n" for k, v in env.items())
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
