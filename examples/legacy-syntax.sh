#!/usr/bin/env bash
# Every secrets command in the syntax of the legacy Python databricks-cli 0.18: `--scope`,
# `--key`, `--principal` and `--permission` options, the `write`/`write-acl` names and
# `--output JSON|TABLE`. Each step checks its result, so the script exits non-zero on the
# first difference.
#
#   databricks-emulator exec examples/legacy-syntax.sh
#
# Credentials come from DATABRICKS_HOST and DATABRICKS_TOKEN (set by `exec`), or from your
# profile. The binary is `databricks` from PATH, or $DATABRICKS_BIN.
set -euo pipefail

databricks() { command "${DATABRICKS_BIN:-databricks}" "$@"; }
fail() {
    printf 'legacy-syntax.sh: %s\n' "$*" >&2
    exit 1
}

scope=${EXAMPLE_SCOPE:-legacy-syntax-example}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

echo "create-scope and list-scopes"
databricks secrets create-scope --scope "$scope" --initial-manage-principal users
databricks secrets list-scopes | grep -q "^$scope " || fail "list-scopes does not show $scope"
databricks secrets list-scopes --output JSON | grep -q "\"name\": \"$scope\"" ||
    fail "list-scopes --output JSON does not show $scope"

echo "put, write and get"
databricks secrets put --scope "$scope" --key db-password --string-value 'p@ss w0rd'
[[ $(databricks secrets get --scope "$scope" --key db-password) == 'p@ss w0rd' ]] ||
    fail "get returned another value for db-password"
printf 'from stdin\n' >"$workdir/piped.txt"
databricks secrets write --scope "$scope" --key from-stdin <"$workdir/piped.txt"
databricks secrets get --scope "$scope" --key from-stdin >"$workdir/piped.copy"
cmp -s "$workdir/piped.txt" "$workdir/piped.copy" || fail "the value piped on stdin did not round-trip"
printf 'binary\000\377\000data\n' >"$workdir/original.bin"
databricks secrets put --scope "$scope" --key keystore --binary-file "$workdir/original.bin"
databricks secrets get --scope "$scope" --key keystore >"$workdir/copy.bin"
cmp -s "$workdir/original.bin" "$workdir/copy.bin" || fail "the binary file did not round-trip"
databricks secrets get --scope "$scope" --key db-password --output JSON | grep -q '"key": "db-password"' ||
    fail "get --output JSON does not show the key"

echo "list"
listing=$(databricks secrets list --scope "$scope" --output TABLE)
for key in db-password from-stdin keystore; do
    grep -q "^$key " <<<"$listing" || fail "list does not show $key"
done
databricks secrets list --scope "$scope" --output JSON | grep -q '"last_updated_timestamp"' ||
    fail "list --output JSON has no timestamps"

echo "put-acl, write-acl, get-acl, list-acls, delete-acl"
databricks secrets put-acl --scope "$scope" --principal data-readers --permission READ
databricks secrets write-acl --scope "$scope" --principal data-writers --permission write
databricks secrets get-acl --scope "$scope" --principal data-writers | grep -q '^data-writers  *WRITE$' ||
    fail "get-acl does not show data-writers with WRITE"
databricks secrets get-acl --scope "$scope" --principal data-readers --output JSON |
    grep -q '"permission": "READ"' || fail "get-acl --output JSON does not show READ"
databricks secrets list-acls --scope "$scope" | grep -q '^data-readers  *READ$' ||
    fail "list-acls does not show data-readers"
databricks secrets delete-acl --scope "$scope" --principal data-readers
if databricks secrets list-acls --scope "$scope" --output JSON | grep -q data-readers; then
    fail "delete-acl left data-readers in place"
fi

echo "delete and delete-scope"
databricks secrets delete --scope "$scope" --key from-stdin
if databricks secrets list --scope "$scope" | grep -q '^from-stdin '; then
    fail "delete left from-stdin in place"
fi
databricks secrets delete-scope --scope "$scope"
if databricks secrets list-scopes | grep -q "^$scope "; then
    fail "delete-scope left $scope in place"
fi
echo "legacy syntax: all commands passed"
