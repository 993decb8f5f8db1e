#!/usr/bin/env bash
# Measures the release `databricks` binary against a local release emulator and prints a
# Markdown table of medians: start-up (--version), one API call (list-scopes), importing 1,000
# secrets from one .env file against 1,000 separate `put` invocations, and the binary's size.
# When the legacy Python CLI is installed (a virtualenv at ~/legacy-cli with
# `pip install databricks-cli`), the same figures for it appear side by side; it needs the
# workspace on port 80, so the emulator then listens on 127.0.0.1:80 (run as root) and both
# CLIs use it.
#
# A second table plays a far-away, throttled workspace (the emulator's pacing control API):
# import, export and sync (no change, and 10 % of the values changed) of 1,000 secrets of 100
# bytes, with the adaptive scheduler and pinned to `--concurrency 8`, at 50 ms latency, and at
# 5 ms latency under a rate limit of 200 requests per second, with the count of 429 answers.
#
# With FIXED_CLI set to a build of this CLI from before adaptive concurrency (fixed 8 requests
# at a time, each throttled request retried on its own: e.g. commit 8f30645), its import and
# export under the rate limit appear in a third column.
#
# Usage: bench/run.sh
# Knobs (environment): RUNS (default 20) runs of each start-up measurement; IMPORT_RUNS
# (default 5) imports and put loops; FAR_RUNS (default 3) runs of each far-away measurement;
# LEGACY_RUNS (default 5) runs of each legacy start-up measurement; LEGACY_PUTS (default 50)
# legacy puts per run, extrapolated to 1,000; LEGACY_CLI (default ~/legacy-cli/bin/databricks).
#
# Wall times come from hyperfine when it is installed (`apt-get install hyperfine`), else from
# the script's own loop; peak memory (maximum resident set size) from GNU time, else from
# Python's getrusage.
set -euo pipefail

RUNS=${RUNS:-20}
IMPORT_RUNS=${IMPORT_RUNS:-5}
FAR_RUNS=${FAR_RUNS:-3}
LEGACY_RUNS=${LEGACY_RUNS:-5}
LEGACY_PUTS=${LEGACY_PUTS:-50}
LEGACY_CLI=${LEGACY_CLI:-$HOME/legacy-cli/bin/databricks}
SECRETS=1000

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

log() { printf '%s\n' "$*" >&2; }

# --- measuring -------------------------------------------------------------------------

# The median of the numbers on stdin, one per line.
median() {
    sort -g | awk '{ value[NR] = $1 }
        END { if (NR % 2) print value[(NR + 1) / 2]; else print (value[NR / 2] + value[NR / 2 + 1]) / 2 }'
}

# Runs a command, output discarded; stdin from /dev/null so that no command waits on a terminal.
quietly() { "$@" </dev/null >/dev/null 2>&1; }

if command -v hyperfine >/dev/null; then
    TIMER="hyperfine $(hyperfine --version | awk '{ print $2 }')"
else
    TIMER="bash loop (\$EPOCHREALTIME)"
fi

# Median wall time in milliseconds of RUNS runs of COMMAND (after warm-up runs).
# Usage: wall_ms RUNS COMMAND...
wall_ms() {
    local runs=$1
    shift
    if command -v hyperfine >/dev/null; then
        local quoted
        quoted=$(printf '%q ' "$@")
        hyperfine --style none --shell=none --warmup 2 --runs "$runs" \
            --export-csv "$work/hyperfine.csv" -- "$quoted" >/dev/null 2>&1 </dev/null
        # Columns: command,mean,stddev,median,... in seconds.
        awk -F, 'NR == 2 { print $4 * 1000 }' "$work/hyperfine.csv"
    else
        quietly "$@"
        quietly "$@"
        local run start end
        for ((run = 0; run < runs; run++)); do
            start=${EPOCHREALTIME/./}
            quietly "$@"
            end=${EPOCHREALTIME/./}
            echo $(((end - start))) | awk '{ print $1 / 1000 }'
        done | median
    fi
}

# Median peak resident memory in KiB of RUNS runs of COMMAND.
# Usage: peak_kib RUNS COMMAND...
peak_kib() {
    local runs=$1 run
    shift
    for ((run = 0; run < runs; run++)); do
        if [[ -x /usr/bin/time ]]; then
            /usr/bin/time -f %M -o "$work/rss" "$@" </dev/null >/dev/null 2>&1
            tail -n 1 "$work/rss"
        else
            python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
        fi
    done | median
}

# Wall time in milliseconds of one run of COMMAND (for runs that are long by themselves).
once_ms() {
    local start end
    start=${EPOCHREALTIME/./}
    "$@"
    end=${EPOCHREALTIME/./}
    echo $(((end - start))) | awk '{ print $1 / 1000 }'
}

# Median over RUNS of the wall time in milliseconds of COMMAND.
# Usage: median_of_ms RUNS COMMAND...
median_of_ms() {
    local runs=$1 run
    shift
    for ((run = 0; run < runs; run++)); do once_ms "$@"; done | median
}

# --- the workspace ---------------------------------------------------------------------

# Starts the release emulator on ADDRESS; sets host, token and emulator_pid.
# `serve` prints `export DATABRICKS_HOST=...` lines, then closes its stdout.
start_emulator() {
    local exports
    exports=$("$EMULATOR" serve --bind "$1" --max-secrets-per-scope $((2 * SECRETS)) \
        2>"$work/emulator.log" &)
    host=$(sed -n 's/^export DATABRICKS_HOST=//p' <<<"$exports")
    token=$(sed -n 's/^export DATABRICKS_TOKEN=//p' <<<"$exports")
    emulator_pid=$(sed -n 's/^export DATABRICKS_EMULATOR_PID=//p' <<<"$exports")
    [[ -n $host && -n $token && -n $emulator_pid ]]
}

legacy_version=
if [[ -x $LEGACY_CLI ]]; then
    if start_emulator 127.0.0.1:80; then
        export DATABRICKS_CLI_DO_NOT_EXECUTE_NEWER_VERSION=1
        legacy_version=$("$LEGACY_CLI" --version 2>/dev/null | awk '{ print $NF }')
    else
        log "bench: $(cat "$work/emulator.log")"
        log "bench: the legacy CLI needs the emulator on port 80 (root, a free port): skipping it"
    fi
fi
if [[ -z $legacy_version ]] && ! start_emulator 127.0.0.1:0; then
    cat "$work/emulator.log" >&2
    log "bench: the emulator did not start"
    exit 1
fi

# Both CLIs read this profile (the legacy CLI needs a host without a port, hence :80).
unset DATABRICKS_HOST DATABRICKS_TOKEN DATABRICKS_CONFIG_PROFILE DATABRICKS_USERNAME DATABRICKS_PASSWORD
export DATABRICKS_CONFIG_FILE=$work/databrickscfg
printf '[DEFAULT]\nhost = %s\ntoken = %s\n' "${host%:80}" "$token" >"$DATABRICKS_CONFIG_FILE"
chmod 600 "$DATABRICKS_CONFIG_FILE"

for scope in bench-list bench-import bench-puts bench-legacy-puts bench-far; do
    "$BIN" secrets create-scope "$scope"
done

dotenv=$work/secrets.env
for ((index = 1; index <= SECRETS; index++)); do
    printf 'SECRET_%04d="value %04d: 0123456789abcdef0123456789abcdef"\n' "$index" "$index"
done >"$dotenv"

# One `put` per secret, the way a script without import would do it.
# Usage: put_each CLI SCOPE COUNT
put_each() {
    local cli=$1 scope=$2 count=$3 index
    for ((index = 1; index <= count; index++)); do
        "$cli" secrets put --scope "$scope" --key "SECRET_$index" \
            --string-value "value $index: 0123456789abcdef0123456789abcdef" </dev/null >/dev/null
    done
}

# --- measurements ----------------------------------------------------------------------

log "bench: start-up and list-scopes ($RUNS runs each)"
version_ms=$(wall_ms "$RUNS" "$BIN" --version)
version_kib=$(peak_kib "$RUNS" "$BIN" --version)
list_ms=$(wall_ms "$RUNS" "$BIN" secrets list-scopes)
list_kib=$(peak_kib "$RUNS" "$BIN" secrets list-scopes)

log "bench: import of $SECRETS secrets and $SECRETS separate puts ($IMPORT_RUNS runs each)"
"$BIN" secrets import bench-import "$dotenv" 2>/dev/null # warm-up, and a check that it works
import_ms=$(median_of_ms "$IMPORT_RUNS" quietly "$BIN" secrets import bench-import "$dotenv")
import_kib=$(peak_kib "$IMPORT_RUNS" "$BIN" secrets import bench-import "$dotenv")
puts_ms=$(median_of_ms "$IMPORT_RUNS" put_each "$BIN" bench-puts "$SECRETS")

if [[ -n $legacy_version ]]; then
    log "bench: legacy CLI $legacy_version ($LEGACY_RUNS runs; $LEGACY_PUTS puts per run)"
    legacy_version_ms=$(wall_ms "$LEGACY_RUNS" "$LEGACY_CLI" --version)
    legacy_version_kib=$(peak_kib "$LEGACY_RUNS" "$LEGACY_CLI" --version)
    legacy_list_ms=$(wall_ms "$LEGACY_RUNS" "$LEGACY_CLI" secrets list-scopes)
    legacy_list_kib=$(peak_kib "$LEGACY_RUNS" "$LEGACY_CLI" secrets list-scopes)
    legacy_sample_ms=$(median_of_ms 3 put_each "$LEGACY_CLI" bench-legacy-puts "$LEGACY_PUTS")
    legacy_puts_ms=$(awk -v ms="$legacy_sample_ms" -v n="$LEGACY_PUTS" -v all=$SECRETS \
        'BEGIN { print ms * all / n }')
fi

# Every measured run must have stored its secrets.
# Usage: expect_keys SCOPE COUNT
expect_keys() {
    local found
    found=$("$BIN" secrets list "$1" --output json | grep -c '"key"' || true)
    if [[ $found -ne $2 ]]; then
        log "bench: scope $1 holds $found secrets instead of $2: a measured command failed"
        exit 1
    fi
}
expect_keys bench-import "$SECRETS"
expect_keys bench-puts "$SECRETS"
if [[ -n $legacy_version ]]; then expect_keys bench-legacy-puts "$LEGACY_PUTS"; fi

# --- a far-away, throttled workspace ----------------------------------------------------

# 1,000 values of exactly 100 bytes, and the same file with every tenth value changed.
far=$work/far.env
far_changed=$work/far-changed.env
filler=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzABCDEFGHIJK
for ((index = 1; index <= SECRETS; index++)); do
    printf 'FAR_%04d="value %04d %s"\n' "$index" "$index" "${filler:0:89}" >>"$far"
    if ((index % 10 == 0)); then
        printf 'FAR_%04d="VALUE %04d %s"\n' "$index" "$index" "${filler:0:89}"
    else
        printf 'FAR_%04d="value %04d %s"\n' "$index" "$index" "${filler:0:89}"
    fi >>"$far_changed"
done

NEAR='{"latency_ms": 0, "rate_limit": null}'
FAR='{"latency_ms": 50, "rate_limit": null}'
THROTTLED='{"latency_ms": 5, "rate_limit": {"requests_per_second": 200, "burst": 200}}'

# The emulator's pacing control API. Usage: pacing METHOD [JSON]
pacing() {
    curl -sSf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${2:+--data "$2"} "$host/__emulator/pacing"
}

# Sets the pacing, refills the bucket and zeroes the count of throttled requests.
set_pacing() { pacing POST "$1" >/dev/null && pacing DELETE >/dev/null; }

throttled_count() { pacing GET | jq .throttled; }

# Runs COMMAND FAR_RUNS times under PACING, each after PREPARE (a command run without pacing,
# or `true`), and sets far_ms and far_429 to the medians of wall time and throttled answers.
# Usage: far_measure PACING PREPARE COMMAND...
far_measure() {
    local setting=$1 prepare=$2 run
    shift 2
    : >"$work/far-ms"
    : >"$work/far-429"
    for ((run = 0; run < FAR_RUNS; run++)); do
        set_pacing "$NEAR"
        quietly $prepare
        set_pacing "$setting"
        once_ms quietly "$@" >>"$work/far-ms"
        throttled_count >>"$work/far-429"
    done
    far_ms=$(median <"$work/far-ms")
    far_429=$(median <"$work/far-429")
}

# One table row: the adaptive client and `--concurrency 8` side by side.
# Usage: far_row LABEL PACING PREPARE REQUESTS TARGET COMMAND...  (REQUESTS: the command's
# requests without retries, for the share of 429 answers)
far_rows=()
far_row() {
    local label=$1 setting=$2 prepare=$3 requests=$4 target=$5 adaptive fixed previous="–"
    shift 5
    far_measure "$setting" "$prepare" "$@"
    adaptive=$(far_cell "$far_ms" "$far_429" "$requests")
    far_measure "$setting" "$prepare" "$@" --concurrency 8
    fixed=$(far_cell "$far_ms" "$far_429" "$requests")
    # The earlier client has no sync, and at 50 ms it is `--concurrency 8` without throttling.
    if [[ -n ${FIXED_CLI:-} && $setting == "$THROTTLED" && $3 != sync ]]; then
        far_measure "$setting" "$prepare" "$FIXED_CLI" "${@:2}"
        previous=$(far_cell "$far_ms" "$far_429" "$requests")
    fi
    far_rows+=("| $label | $adaptive | $fixed |${FIXED_CLI:+ $previous |} $target |")
}

far_cell() {
    awk -v ms="$1" -v throttled="$2" -v requests="$3" 'BEGIN {
        time = ms < 10000 ? sprintf("%.2f s", ms / 1000) : sprintf("%.0f s", ms / 1000)
        if (throttled == 0) print time
        else printf "%s, %d × 429 (%.1f %%)\n", time, throttled, 100 * throttled / (requests + throttled)
    }'
}

log "bench: far-away workspace ($FAR_RUNS runs each; 50 ms latency, then 5 ms and 200 requests/s)"
"$BIN" secrets import bench-far "$far" 2>/dev/null
sync_back="$BIN secrets sync bench-far $far"
for setting in FAR THROTTLED; do
    if [[ $setting == FAR ]]; then
        where="50 ms away"
        import_target="≤ 1.5 s"
    else
        where="5 ms away, 200 requests/s"
        import_target="≥ 90 % of the limit (≤ 5.6 s), < 5 % 429"
    fi
    far_row "\`import\`, $where" "${!setting}" true $SECRETS "$import_target" \
        "$BIN" secrets import bench-far "$far"
    far_row "\`export\`, $where" "${!setting}" true $((SECRETS + 1)) "" \
        "$BIN" secrets export bench-far
    far_row "\`sync\`, no change, $where" "${!setting}" true $((SECRETS + 2)) "no write" \
        "$BIN" secrets sync bench-far "$far"
    far_row "\`sync\`, 10 % changed, $where" "${!setting}" "$sync_back" \
        $((SECRETS + 2 + SECRETS / 10)) "" "$BIN" secrets sync bench-far "$far_changed"
done
set_pacing "$NEAR"
"$BIN" secrets sync bench-far "$far" >/dev/null 2>&1
if ! "$BIN" secrets sync bench-far "$far" --dry-run |
    grep -q "^Plan: 0 to add, 0 to change, 0 to delete, $SECRETS unchanged$"; then
    log "bench: sync of an unchanged scope planned a write"
    exit 1
fi
expect_keys bench-far "$SECRETS"

# --- the table -------------------------------------------------------------------------

ms() { awk -v ms="$1" 'BEGIN { if (ms < 100) printf "%.1f ms", ms; else if (ms < 10000) printf "%.2f s", ms / 1000; else printf "%.0f s", ms / 1000 }'; }
mib() { awk -v kib="$1" 'BEGIN { printf "%.1f MiB", kib / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f×", a / b }'; }

size_bytes=$(stat -c %s "$BIN")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

if [[ -n $legacy_version ]]; then
    legacy() { printf ' %s |' "$1"; }
    legacy_header=" legacy CLI $legacy_version |"
    legacy_rule="---|"
else
    legacy() { :; }
    legacy_header=
    legacy_rule=
fi

echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown);"
echo "medians; wall times by $TIMER; peak memory is the maximum resident set size."
echo
echo "| Measurement | databricks (this) |$legacy_header Target |"
echo "|---|---|$legacy_rule---|"
echo "| \`--version\`: wall time ($RUNS runs) | $(ms "$version_ms") |$(legacy "$(ms "${legacy_version_ms:-0}")") ≤ 5 ms |"
echo "| \`--version\`: peak memory | $(mib "$version_kib") |$(legacy "$(mib "${legacy_version_kib:-0}")") ≤ 15 MiB |"
echo "| \`secrets list-scopes\`: wall time ($RUNS runs) | $(ms "$list_ms") |$(legacy "$(ms "${legacy_list_ms:-0}")") ≤ 5 ms |"
echo "| \`secrets list-scopes\`: peak memory | $(mib "$list_kib") |$(legacy "$(mib "${legacy_list_kib:-0}")") ≤ 15 MiB |"
echo "| \`secrets import\` of $SECRETS secrets from one .env ($IMPORT_RUNS runs) | $(ms "$import_ms") |$(legacy "no import command") ≤ 1 s |"
echo "| \`secrets import\`: peak memory | $(mib "$import_kib") |$(legacy "–") |"
echo "| $SECRETS separate \`secrets put\` invocations | $(ms "$puts_ms") ($IMPORT_RUNS runs) |$(legacy "$(ms "${legacy_puts_ms:-0}") (${LEGACY_PUTS} puts × $((SECRETS / LEGACY_PUTS)), 3 runs)") |"
echo "| import speed-up over $SECRETS puts | $(ratio "$puts_ms" "$import_ms") |$(legacy "$(ratio "${legacy_puts_ms:-0}" "$import_ms") (vs. this import)") |"
echo "| release binary size | $(mib "$((size_bytes / 1024))") ($size_bytes bytes) |$(legacy "–") ≤ 8 MiB |"

echo
echo "A far-away, throttled workspace: the release emulator with \`--latency\` and \`--rate-limit\`"
echo "(burst 200, \`Retry-After\` in whole seconds); $SECRETS secrets of 100 bytes; medians of $FAR_RUNS runs;"
echo "429 answers counted by the emulator, as a share of all requests including retries."
echo
echo "| 1,000 secrets | adaptive (default) | \`--concurrency 8\` |${FIXED_CLI:+ earlier client (fixed 8) |} Target |"
echo "|---|---|---|${FIXED_CLI:+---|}---|"
printf '%s\n' "${far_rows[@]}"
