#!/usr/bin/env bash
# Runs the official Databricks SDK for Python against fresh emulators: with a token
# (python_sdk_check.py) and with OAuth (python_sdk_oauth_check.py: M2M, GitHub OIDC, U2M).
# For CI: skips (exit 0, with a note) when python3 or PyPI is not available; fails on any check.
#   emulator/examples/python_sdk_checks.sh        # venv in target/sdk-venv, or $SDK_VENV
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "python_sdk_checks: python3 with venv not found; skipping the Python SDK checks"
  exit 0
fi
venv="${SDK_VENV:-target/sdk-venv}"
if ! "$venv/bin/python" -c 'import databricks.sdk' 2>/dev/null; then
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet databricks-sdk; then
    echo "python_sdk_checks: cannot install databricks-sdk from PyPI; skipping the Python SDK checks"
    exit 0
  fi
fi

cargo build --quiet --locked -p databricks-emulator
emulator=target/debug/databricks-emulator
python="$venv/bin/python"

"$emulator" exec -- "$python" emulator/examples/python_sdk_check.py
"$emulator" exec --token sdk-check-admin-token \
  --service-principal sdk-check-sp=sdk-check-secret \
  --federation sdk-check-federated=https://token.actions.githubusercontent.com,repo:octo-org/octo-repo:ref:refs/heads/main \
  --user alice@example.com=alice-token --login-as alice@example.com \
  -- "$python" emulator/examples/python_sdk_oauth_check.py
