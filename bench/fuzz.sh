#!/usr/bin/env bash
# Runs every fuzz-style property test of a parser of outside input (the tests of the
# `databricks` binary named `fuzz_<parser>`, found by name, so new ones join automatically)
# through FUZZ_CASES generated inputs each, one test after the other, and prints a Markdown
# table of the cases, the time and the peak memory of each, plus the total. A test that fails (a panic, a broken property) is reported and makes
# the script exit 1 after the others ran. Stable Rust only; not part of .ci/run (a million cases
# each take minutes).
#
# Usage: bench/fuzz.sh [NAME_FILTER]
# Knobs (environment): FUZZ_CASES (default 1000000) cases per test; NAME_FILTER (optional
# argument) runs only the fuzz tests whose path contains it. Needs bash 5 (EPOCHREALTIME).
set -euo pipefail
export LC_NUMERIC=C # a '.' in EPOCHREALTIME

export FUZZ_CASES=${FUZZ_CASES:-1000000}
name_filter=${1:-}

cd "$(dirname "$0")/.."
# Build once, then run the test executable itself, so that time and memory are the test's own.
test_binary=$(
    cargo test --release --locked --bin databricks --no-run 2>&1 >/dev/null |
        tee /dev/stderr | sed -n 's/^ *Executable .*(\(.*\))$/\1/p' | head -n 1
)
if [[ ! -x $test_binary ]]; then
    echo "could not find the test executable in cargo's output" >&2
    exit 1
fi

# `--list` prints `path::to::test_name: test`; keep the tests whose own name starts with fuzz_.
mapfile -t tests < <(
    "$test_binary" --list 2>/dev/null |
        sed -n 's/^\(\([a-z0-9_]*::\)*fuzz_[a-z0-9_]*\): test$/\1/p' |
        grep -F -- "$name_filter" || true
)
if [[ ${#tests[@]} -eq 0 ]]; then
    echo "no fuzz_ tests found${name_filter:+ matching '$name_filter'}" >&2
    exit 1
fi

log=$(mktemp)
peak=$(mktemp)
trap 'rm -f "$log" "$peak"' EXIT
# GNU time gives the test process's peak resident set; without it, "-".
measure() { if [[ -x /usr/bin/time ]]; then /usr/bin/time -f '%M' -o "$peak" "$@"; else "$@"; fi; }
peak_mib() { if [[ -s $peak ]]; then awk '{ printf "%.0f", $1 / 1024 }' "$peak"; else echo -; fi; }
seconds_since() { awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1f", now - start }'; }

echo "Fuzzing ${#tests[@]} parsers with $FUZZ_CASES cases each" >&2
echo
echo "| Fuzz test | Cases | Time (s) | Peak memory (MiB) | Result |"
echo "|---|---:|---:|---:|---|"
failed=0
total_cases=0
started_all=$EPOCHREALTIME
for test in "${tests[@]}"; do
    started=$EPOCHREALTIME
    : >"$peak"
    if measure "$test_binary" --exact "$test" --test-threads=1 \
        >"$log" 2>&1 && grep -q ' 1 passed' "$log"; then
        result=passed
        total_cases=$((total_cases + FUZZ_CASES))
    else
        result=FAILED
        failed=1
        sed 's/^/    /' "$log" >&2
    fi
    printf '| `%s` | %d | %s | %s | %s |\n' "${test##*::}" "$FUZZ_CASES" \
        "$(seconds_since "$started")" "$(peak_mib)" "$result"
done
printf '| **total** | %d | %s | | %s |\n' "$total_cases" "$(seconds_since "$started_all")" \
    "$([[ $failed -eq 0 ]] && echo "all passed" || echo "FAILURES above")"
exit "$failed"
