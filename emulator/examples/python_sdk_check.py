#!/usr/bin/env python3
"""Drive the official Databricks SDK for Python against databricks-emulator.

Run by examples/python_sdk_checks.sh (with the OAuth check), or by hand:

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install databricks-sdk
    cargo run -p databricks-emulator -- exec -- /tmp/sdkvenv/bin/python emulator/examples/python_sdk_check.py

It reads DATABRICKS_HOST and DATABRICKS_TOKEN (set by `databricks-emulator exec`) and exercises
the secrets calls as a new user would: create a scope, put a string and a bytes secret, list,
get, delete the secret, delete the scope. It exits non-zero on the first surprise.
"""

import base64
import json
import os
import sys
import time
import urllib.request

import databricks.sdk
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, ResourceAlreadyExists

host = os.environ["DATABRICKS_HOST"]
token = os.environ["DATABRICKS_TOKEN"]
print(f"databricks-sdk {databricks.sdk.version.__version__}, python {sys.version.split()[0]}, host {host}")

w = WorkspaceClient(host=host, token=token)
scope = "sdk-check"

w.secrets.create_scope(scope=scope)
try:
    w.secrets.create_scope(scope=scope.upper())
    sys.exit("creating the same scope in another case should fail")
except ResourceAlreadyExists as error:
    print(f"duplicate scope refused: {error}")

w.secrets.put_secret(scope=scope, key="text", string_value="hello from the SDK")
raw = bytes(range(256))
w.secrets.put_secret(scope=scope, key="binary", bytes_value=base64.b64encode(raw).decode())

scopes = [s.name for s in w.secrets.list_scopes()]
print(f"scopes: {scopes}")
assert scope in scopes

keys = [(s.key, s.last_updated_timestamp) for s in w.secrets.list_secrets(scope=scope)]
print(f"secrets: {keys}")
assert [k for k, _ in keys] == ["binary", "text"]

text = w.secrets.get_secret(scope=scope, key="text")
assert base64.b64decode(text.value) == b"hello from the SDK", text
binary = w.secrets.get_secret(scope=scope, key="binary")
assert base64.b64decode(binary.value) == raw
print("get_secret: string and bytes values round-trip")

acls = [(a.principal, a.permission.value) for a in w.secrets.list_acls(scope=scope)]
print(f"acls: {acls}")

w.secrets.delete_secret(scope=scope, key="text")
try:
    w.secrets.get_secret(scope=scope, key="text")
    sys.exit("a deleted secret should be gone")
except NotFound as error:
    print(f"deleted secret is gone: {error}")

w.secrets.delete_scope(scope=scope)
assert scope not in [s.name for s in w.secrets.list_scopes()]

# The SDK retries 429 and honours Retry-After: queue one rate-limit fault and time the call.
fault = {"status": 429, "retry_after": "1", "path": "/api/2.0/secrets/scopes/list"}
request = urllib.request.Request(
    f"{host}/__emulator/faults",
    data=json.dumps(fault).encode(),
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    method="POST",
)
urllib.request.urlopen(request).read()
started = time.monotonic()
list(w.secrets.list_scopes())
print(f"list_scopes after an injected 429 (Retry-After: 1) succeeded in {time.monotonic() - started:.1f} s")
print("OK: the SDK works against the emulator")
