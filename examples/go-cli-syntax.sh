#!/usr/bin/env bash
# Every secrets command in the syntax of the current Go databricks CLI: positional arguments
# (`put-secret SCOPE KEY`, `put-acl SCOPE PRINCIPAL PERMISSION`), the `put-secret`,
# `get-secret`, `list-secrets` and `delete-secret` names, `--bytes-value`, `--json` request
# bodies, `--limit`, `-o json|text` and DATABRICKS_OUTPUT_FORMAT, with the JSON output read by
# jq (or by python3 where jq is missing) as Go CLI scripts do. Each step checks its result, so
# the script exits non-zero on the first difference.
#
#   databricks-emulator exec examples/go-cli-syntax.sh
#
# Credentials come from DATABRICKS_HOST and DATABRICKS_TOKEN (set by `exec`), or from your
# profile. The binary is `databricks` from PATH, or $DATABRICKS_BIN. JSON_TOOL=python3 uses
# python3 even where jq is installed.
set -euo pipefail

databricks() { command "${DATABRICKS_BIN:-databricks}" "$@"; }
fail() {
    printf 'go-cli-syntax.sh: %s\n' "$*" >&2
    exit 1
}

# `items FIELD` prints FIELD of every item of a JSON array on stdin, `field FIELD` the FIELD of
# a JSON object, one per line: jq -r '.[].FIELD' and jq -r '.FIELD'.
if [[ ${JSON_TOOL:-} != python3 ]] && command -v jq >/dev/null; then
    items() { jq -r --arg field "$1" '.[] | .[$field]'; }
    field() { jq -r --arg field "$1" '.[$field]'; }
else
    items() {
        python3 -c 'import json, sys
for item in json.load(sys.stdin):
    print(item[sys.argv[1]])' "$1"
    }
    field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
fi

scope=${EXAMPLE_SCOPE:-go-cli-syntax-example}
json_scope=$scope-from-json
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

echo "create-scope and list-scopes"
databricks secrets create-scope "$scope"
databricks secrets create-scope "$scope" --if-not-exists
printf '{"scope": "%s", "initial_manage_principal": "users"}\n' "$json_scope" >"$workdir/scope.json"
databricks secrets create-scope --json "@$workdir/scope.json"
databricks secrets list-scopes -o text | grep -q "^$scope  *DATABRICKS$" ||
    fail "list-scopes -o text does not show $scope"
databricks secrets list-scopes -o json | items name | grep -qx "$json_scope" ||
    fail "list-scopes -o json does not show $json_scope"
[[ $(DATABRICKS_OUTPUT_FORMAT=json databricks secrets list-scopes | items backend_type | sort -u) == DATABRICKS ]] ||
    fail "DATABRICKS_OUTPUT_FORMAT=json list-scopes does not show the backend types"

echo "put-secret and get-secret"
# get-secret prints {"key": ..., "value": "<base64>"}; this prints the value.
secret_value() { databricks secrets get-secret "$@" | field value | base64 --decode; }
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
# A request body from a file keeps the value out of the process list.
printf '{"scope": "%s", "key": "db-password", "string_value": "hunter2"}\n' "$scope" >"$workdir/put.json"
databricks secrets put-secret --json "@$workdir/put.json"
[[ $(secret_value "$scope" db-password) == hunter2 ]] ||
    fail "put-secret --json stored another value"
[[ $(databricks secrets get-secret "$scope" api-token -o text | field key) == api-token ]] ||
    fail "get-secret -o text does not print the JSON with the key"

echo "list-secrets"
listing=$(databricks secrets list-secrets "$scope")
[[ $(head -1 <<<"$listing") == "Key"*"Last Updated Timestamp" ]] ||
    fail "list-secrets has another header: $(head -1 <<<"$listing")"
for key in api-token api-url client-cert db-password; do
    grep -q "^$key " <<<"$listing" || fail "list-secrets does not show $key"
    databricks secrets list-secrets "$scope" -o json | items key | grep -qx "$key" ||
        fail "list-secrets -o json does not show $key"
done
databricks secrets list-secrets "$scope" -o json | items last_updated_timestamp | grep -qvx null ||
    fail "list-secrets -o json has no timestamps"
[[ $(databricks secrets list-secrets "$scope" --limit 2 -o json | items key | wc -l) -eq 2 ]] ||
    fail "list-secrets --limit 2 does not print two keys"

echo "put-acl, get-acl, list-acls, delete-acl"
databricks secrets put-acl "$scope" data-readers READ
databricks secrets put-acl "$scope" data-writers write
databricks secrets put-acl --json "{\"scope\": \"$scope\", \"principal\": \"ops\", \"permission\": \"MANAGE\"}"
[[ $(databricks secrets get-acl "$scope" data-writers -o text | field permission) == WRITE ]] ||
    fail "get-acl does not show data-writers with WRITE"
[[ $(databricks secrets get-acl "$scope" ops -o json | field permission) == MANAGE ]] ||
    fail "get-acl does not show ops with MANAGE"
databricks secrets list-acls "$scope" -o json | items principal | grep -qx data-readers ||
    fail "list-acls does not show data-readers"
databricks secrets list-acls "$scope" | grep -q '^data-readers  *READ$' ||
    fail "list-acls without -o does not print its table"
databricks secrets delete-acl "$scope" data-readers
databricks secrets delete-acl --json "{\"scope\": \"$scope\", \"principal\": \"ops\"}"
if databricks secrets list-acls "$scope" -o json | items principal | grep -qx -e data-readers -e ops; then
    fail "delete-acl left data-readers or ops in place"
fi

echo "delete-secret and delete-scope"
databricks secrets delete-secret "$scope" api-url
databricks secrets delete-secret --json "{\"scope\": \"$scope\", \"key\": \"db-password\"}"
if databricks secrets list-secrets "$scope" -o json | items key | grep -qx -e api-url -e db-password; then
    fail "delete-secret left api-url or db-password in place"
fi
databricks secrets delete-scope "$scope"
databricks secrets delete-scope --json "{\"scope\": \"$json_scope\"}"
if databricks secrets list-scopes -o json | items name | grep -qx -e "$scope" -e "$json_scope"; then
    fail "delete-scope left $scope or $json_scope in place"
fi
echo "Go CLI syntax: all commands passed"
