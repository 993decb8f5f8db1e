#!/usr/bin/env bash
# Drop-in check: with our `databricks` first on PATH, the official Databricks SDK for Python,
# configured with `auth_type = databricks-cli`, gets its token from `databricks auth token` and
# lists scopes on the emulator. The login itself runs `databricks auth login` with a "browser"
# that follows the emulator's --login-as redirect to the callback (curl).
# For CI: skips (exit 0, with a note) when python3 or PyPI is not available; fails on any check.
#   tests/sdk/databricks_cli_auth.sh        # venv in target/sdk-venv, or $SDK_VENV
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "databricks_cli_auth: python3 with venv not found; skipping the Python SDK drop-in check"
  exit 0
fi
venv="${SDK_VENV:-target/sdk-venv}"
if ! "$venv/bin/python" -c 'import databricks.sdk' 2>/dev/null; then
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet databricks-sdk; then
    echo "databricks_cli_auth: cannot install databricks-sdk from PyPI; skipping the Python SDK drop-in check"
    exit 0
  fi
fi

cargo build --quiet --locked --bin databricks -p databricks-secrets -p databricks-emulator
bin_dir="$(pwd)/target/debug"
python="$(cd "$(dirname "$venv/bin/python")" && pwd)/python"

PATH="$bin_dir:$PATH" "$bin_dir/databricks-emulator" exec --token sdk-admin-token \
  --user alice@example.com=alice-token --login-as alice@example.com --token-ttl 60 \
  -- "$python" tests/sdk/databricks_cli_auth.py
