#!/usr/bin/env python3
"""Drive the official Databricks SDK for Python against databricks-emulator's OAuth server:
as a service principal (`oauth-m2m`: discovery, client credentials, SCIM Me, the secrets calls),
with workload identity federation (`github-oidc`, through the emulator's fake GitHub ID-token
endpoint) and as a person (`external-browser`: authorization code with PKCE, the "browser" being
a script that follows the emulator's `--login-as` redirect to the SDK's callback).

Try it (needs curl for the fake browser):

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install databricks-sdk
    cargo run -p databricks-emulator -- exec --token sdk-check-admin-token \
        --service-principal sdk-check-sp=sdk-check-secret \
        --federation sdk-check-federated=https://token.actions.githubusercontent.com,repo:octo-org/octo-repo:ref:refs/heads/main \
        --user alice@example.com=alice-token --login-as alice@example.com \
        -- /tmp/sdkvenv/bin/python emulator/examples/python_sdk_oauth_check.py

It reads DATABRICKS_HOST and the admin's DATABRICKS_TOKEN (set by `databricks-emulator exec`:
the first --token) and removes the token from its environment so that only OAuth is configured. Through the
emulator's request log it checks that the SDK asked for one token with the client credentials
grant and that no secret reached the log. HOME points at a temporary directory, where the SDK
keeps its U2M token cache. It exits non-zero on the first surprise.
"""

import json
import os
import stat
import sys
import tempfile
import urllib.request

import databricks.sdk
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import PermissionDenied

host = os.environ["DATABRICKS_HOST"]
admin_token = os.environ.pop("DATABRICKS_TOKEN")
client_id = "sdk-check-sp"
client_secret = "sdk-check-secret"
home = tempfile.mkdtemp(prefix="sdk-oauth-check-")
os.environ["HOME"] = home
print(f"databricks-sdk {databricks.sdk.version.__version__}, python {sys.version.split()[0]}, host {host}")


def control(method, path):
    request = urllib.request.Request(
        f"{host}{path}", headers={"Authorization": f"Bearer {admin_token}"}, method=method
    )
    return json.loads(urllib.request.urlopen(request).read() or b"{}")


control("DELETE", "/__emulator/requests")
w = WorkspaceClient(host=host, client_id=client_id, client_secret=client_secret)

me = w.current_user.me()
print(f"current user: {me.user_name} (auth type {w.config.auth_type})")
assert me.user_name == client_id, me
assert w.config.auth_type == "oauth-m2m", w.config.auth_type

scope = "sdk-m2m-check"
w.secrets.create_scope(scope=scope)
w.secrets.put_secret(scope=scope, key="deployed-by", string_value="the service principal")
scopes = [s.name for s in w.secrets.list_scopes()]
print(f"scopes: {scopes}")
assert scope in scopes
acls = {a.principal: a.permission.value for a in w.secrets.list_acls(scope=scope)}
print(f"acls: {acls}")
assert acls == {client_id: "MANAGE"}, acls

# A scope the service principal has no rights on: the real 403, as the SDK's exception.
admin = WorkspaceClient(host=host, token=admin_token, auth_type="pat")
admin.secrets.create_scope(scope="admins-only")
try:
    w.secrets.list_secrets(scope="admins-only")
    sys.exit("listing another principal's scope should be refused")
except PermissionDenied as error:
    print(f"no ACL, no access: {error}")

requests = control("GET", "/__emulator/requests")["requests"]
paths = [r["path"] for r in requests]
token_requests = [r for r in requests if r["path"] == "/oidc/v1/token"]
print(f"requests: {paths}")
assert len(token_requests) == 1, token_requests
assert token_requests[0]["body"].get("grant_type") == "client_credentials", token_requests[0]
assert client_secret not in json.dumps(requests), "the client secret reached the request log"
print(f"token request: {token_requests[0]['body']} ({token_requests[0]['auth_scheme'] or 'secret in the body'})")
print("oauth-m2m: OK")

# Workload identity federation: the SDK fetches a GitHub ID token and exchanges it.
os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] = f"{host}/github-actions/idtoken?api-version=2.0"
os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "emulator-ci-request-token"
federated = WorkspaceClient(host=host, client_id="sdk-check-federated", auth_type="github-oidc")
assert federated.current_user.me().user_name == "sdk-check-federated"
assert scope in [s.name for s in federated.secrets.list_scopes()]
print(f"github-oidc: OK ({federated.config.auth_type})")

# U2M: a "browser" that follows the authorize redirect to the SDK's callback on localhost.
browser = os.path.join(home, "browser.sh")
with open(browser, "w") as script:
    script.write('#!/bin/sh\ncurl -sSL --max-time 20 "$1" >/dev/null 2>&1 &\n')
os.chmod(browser, stat.S_IRWXU)
os.environ["BROWSER"] = browser
person = WorkspaceClient(host=host, auth_type="external-browser")
user = person.current_user.me().user_name
print(f"external-browser: signed in as {user}")
assert user == "alice@example.com", user
person.secrets.create_scope(scope="alices-scope")
acls = {a.principal: a.permission.value for a in person.secrets.list_acls(scope="alices-scope")}
assert acls == {"alice@example.com": "MANAGE"}, acls
print("external-browser: OK")
print("OK: the SDK authenticates with the emulator's OAuth server (M2M, GitHub OIDC, U2M)")
