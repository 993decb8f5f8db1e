#!/usr/bin/env python3
"""The official Databricks SDK for Python with `auth_type = databricks-cli`, using our
`databricks` (first on PATH) the way it uses the Go CLI: `databricks version --output json`, then
`databricks auth token --profile P --force-refresh`, whose JSON it parses.

Run by tests/sdk/databricks_cli_auth.sh inside `databricks-emulator exec` (DATABRICKS_HOST and
the admin's DATABRICKS_TOKEN set; the token is removed here so that only the login
authenticates). HOME is a temporary directory. Exits non-zero on the first surprise.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.request

import databricks.sdk
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.workspace import AclPermission

host = os.environ.pop("DATABRICKS_HOST")
admin_token = os.environ.pop("DATABRICKS_TOKEN")
home = tempfile.mkdtemp(prefix="sdk-databricks-cli-")
os.environ["HOME"] = home
cli_path = shutil.which("databricks")
print(f"databricks-sdk {databricks.sdk.version.__version__}, CLI {cli_path}, host {host}")


def control(method, path):
    request = urllib.request.Request(
        f"{host}{path}", headers={"Authorization": f"Bearer {admin_token}"}, method=method
    )
    return json.loads(urllib.request.urlopen(request).read() or b"{}")


browser = os.path.join(home, "browser.sh")
with open(browser, "w") as script:
    script.write('#!/bin/sh\nexec curl -sS -L -o /dev/null --max-time 20 "$1"\n')
os.chmod(browser, stat.S_IRWXU)
login = subprocess.run(
    ["databricks", "auth", "login", "--host", host, "--profile", "sdk", "--timeout", "60s"],
    env={**os.environ, "BROWSER": browser},
    capture_output=True,
    text=True,
)
print(login.stderr.strip())
assert login.returncode == 0, login.stderr

control("DELETE", "/__emulator/requests")
admin = WorkspaceClient(host=host, token=admin_token, auth_type="pat")
admin.secrets.create_scope(scope="sdk-drop-in")
admin.secrets.put_acl(scope="sdk-drop-in", principal="alice@example.com", permission=AclPermission.READ)

w = WorkspaceClient(profile="sdk")
assert w.config.auth_type == "databricks-cli", w.config.auth_type
me = w.current_user.me()
print(f"current user: {me.user_name} (auth type {w.config.auth_type})")
assert me.user_name == "alice@example.com", me
scopes = [s.name for s in w.secrets.list_scopes()]
print(f"scopes: {scopes}")
assert "sdk-drop-in" in scopes, scopes

# The SDK went through `databricks auth token --force-refresh`: one refresh at the emulator.
token_requests = [r for r in control("GET", "/__emulator/requests")["requests"] if r["path"] == "/oidc/v1/token"]
grants = [r["body"].get("grant_type") for r in token_requests]
print(f"token requests: {grants}")
assert grants and set(grants) == {"refresh_token"}, grants
print("OK: the Python SDK gets its token from our `databricks auth token` (databricks-cli)")
