#!/usr/bin/env bash
# Every secrets command in the syntax of the current Go databricks CLI: positional arguments
# (`put-secret SCOPE KEY`, `put-acl SCOPE PRINCIPAL PERMISSION`), the `put-secret`,
# `get-secret`, `list-secrets` and `delete-secret` names, `--bytes-value` and `-o json|text`.
# Each step checks its result, so the script exits non-zero on the first difference.
#
#   databricks-emulator exec examples/go-cli-syntax.sh
#
# Credentials come from DATABRICKS_HOST and DATABRICKS_TOKEN (set by `exec`), or from your
# profile. The binary is `databricks` from PATH, or $DATABRICKS_BIN.
set -euo pipefail

databricks() { command "${DATABRICKS_BIN:-databricks}" "$@"; }
fail() {
    printf 'go-cli-syntax.sh: %s\n' "$*" >&2
    exit 1
}

scope=${EXAMPLE_SCOPE:-go-cli-syntax-example}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

echo "create-scope and list-scopes"
databricks secrets create-scope "$scope"
databricks secrets create-scope "$scope" --if-not-exists
databricks secrets list-scopes -o text | grep -q "^$scope " || fail "list-scopes does not show $scope"
databricks secrets list-scopes -o json | grep -q "\"name\": \"$scope\"" ||
    fail "list-scopes -o json does not show $scope"

echo "put-secret and get-secret"
# get-secret prints {"key": ..., "value": "<base64>"} as the Go CLI does; this prints the value.
secret_value() {
    databricks secrets get-secret "$@" | sed -n 's/^  "value": "\(.*\)"$/\1/p' | base64 --decode
}
databricks secrets put-secret "$scope" api-token --string-value 'tok en'
[[ $(secret_value "$scope" api-token) == 'tok en' ]] ||
    fail "get-secret returned another value for api-token"
databricks secrets put-secret "$scope" api-url --bytes-value 'https://api.example.com'
[[ $(secret_value "$scope" api-url) == 'https://api.example.com' ]] ||
    fail "get-secret returned another value for api-url"
printf 'cert\000\377\000bytes\n' >"$workdir/original.bin"
databricks secrets put-secret "$scope" client-cert <"$workdir/original.bin"
secret_value "$scope" client-cert >"$workdir/copy.bin"
cmp -s "$workdir/original.bin" "$workdir/copy.bin" || fail "the bytes on stdin did not round-trip"
databricks secrets get-secret "$scope" api-token -o json | grep -q '"key": "api-token"' ||
    fail "get-secret -o json does not show the key"

echo "list-secrets"
listing=$(databricks secrets list-secrets "$scope")
for key in api-token api-url client-cert; do
    grep -q "^$key " <<<"$listing" || fail "list-secrets does not show $key"
done
databricks secrets list-secrets "$scope" -o json | grep -q '"last_updated_timestamp"' ||
    fail "list-secrets -o json has no timestamps"

echo "put-acl, get-acl, list-acls, delete-acl"
databricks secrets put-acl "$scope" data-readers READ
databricks secrets put-acl "$scope" data-writers write
databricks secrets get-acl "$scope" data-writers -o text | grep -q '^data-writers  *WRITE$' ||
    fail "get-acl does not show data-writers with WRITE"
databricks secrets get-acl "$scope" data-readers -o json | grep -q '"permission": "READ"' ||
    fail "get-acl -o json does not show READ"
databricks secrets list-acls "$scope" | grep -q '^data-readers  *READ$' ||
    fail "list-acls does not show data-readers"
databricks secrets delete-acl "$scope" data-readers
if databricks secrets list-acls "$scope" -o json | grep -q data-readers; then
    fail "delete-acl left data-readers in place"
fi

echo "delete-secret and delete-scope"
databricks secrets delete-secret "$scope" api-url
if databricks secrets list-secrets "$scope" | grep -q '^api-url '; then
    fail "delete-secret left api-url in place"
fi
databricks secrets delete-scope "$scope"
if databricks secrets list-scopes | grep -q "^$scope "; then
    fail "delete-scope left $scope in place"
fi
echo "Go CLI syntax: all commands passed"
