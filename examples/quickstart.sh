#!/usr/bin/env bash
# A first walk through the main job, against the local emulator:
#
#   cargo run -p databricks-emulator -- exec examples/quickstart.sh
#
# The emulator sets DATABRICKS_HOST and DATABRICKS_TOKEN; this script stores them in a throw-away
# profile with `configure`, then creates a scope, puts secrets from each source, lists and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --locked --bin databricks
databricks() { "${DATABRICKS_BIN:-target/debug/databricks}" "$@"; }

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
export DATABRICKS_CONFIG_FILE="$workdir/databrickscfg"

step() { printf '\n$ %s\n' "$*"; }

step "configure (host and token read from stdin, as in CI)"
printf '%s\n%s\n' "$DATABRICKS_HOST" "$DATABRICKS_TOKEN" | databricks configure --token
unset DATABRICKS_HOST DATABRICKS_TOKEN # from here on, the [DEFAULT] profile is used
sed 's/^token = .*/token = ********/' "$DATABRICKS_CONFIG_FILE"

step "databricks secrets create-scope --scope quickstart"
databricks secrets create-scope --scope quickstart

step "put: from stdin, from a flag, from a binary file"
printf 'p@ssw0rd' | databricks secrets put --scope quickstart --key db-password
databricks secrets put --scope quickstart --key api-url --string-value https://api.example.com
head -c 32 /dev/urandom > "$workdir/key.bin"
databricks secrets put --scope quickstart --key signing-key --binary-file "$workdir/key.bin"

step "databricks secrets list --scope quickstart"
databricks secrets list --scope quickstart

step "databricks secrets list-scopes --output json"
databricks secrets list-scopes --output json

step "databricks secrets delete --scope quickstart --key api-url"
databricks secrets delete --scope quickstart --key api-url
databricks secrets list quickstart

step "databricks secrets delete-scope --scope quickstart"
databricks secrets delete-scope --scope quickstart
databricks secrets list-scopes
printf '\nquickstart finished\n'
