#!/usr/bin/env bash
# Measures how the release `databricks` binary scales with the size of the config file: a file of
# PROFILES profiles (default 200,000, about 12 MB) whose last profile points at a local release
# emulator. Prints the median wall time of
#   - `secrets list-scopes --profile <last>`: read the whole file, resolve, one API call;
#   - `configure --profile <last>`: read, change one profile, write the whole file back (the
#     writer path, under the lock);
# for a file of one profile, half of PROFILES and PROFILES: linear costs double from the half to
# the whole, quadratic ones quadruple.
#
# Usage: bench/config_scale.sh
# Knobs (environment): PROFILES (default 200000), RUNS (default 5).
set -euo pipefail

PROFILES=${PROFILES:-200000}
RUNS=${RUNS:-5}

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

exports=$("$EMULATOR" serve --bind 127.0.0.1:0 2>"$work/emulator.log" &)
host=$(sed -n 's/^export DATABRICKS_HOST=//p' <<<"$exports")
token=$(sed -n 's/^export DATABRICKS_TOKEN=//p' <<<"$exports")
emulator_pid=$(sed -n 's/^export DATABRICKS_EMULATOR_PID=//p' <<<"$exports")
if [[ -z $host || -z $token || -z $emulator_pid ]]; then
    cat "$work/emulator.log" >&2
    echo "config_scale: the emulator did not start" >&2
    exit 1
fi
unset DATABRICKS_HOST DATABRICKS_TOKEN DATABRICKS_CONFIG_PROFILE DATABRICKS_USERNAME DATABRICKS_PASSWORD
printf '%s\n' "$token" >"$work/token"

# FILE PROFILES: profiles p1..pN with placeholder hosts, the last one pointing at the emulator.
make_config() {
    awk -v n="$2" -v host="$host" -v token="$token" 'BEGIN {
        for (i = 1; i < n; i++)
            printf "[p%d]\nhost = https://h%d.example.com\ntoken = dapi%d\n\n", i, i, i
        printf "[p%d]\nhost = %s\ntoken = %s\n", n, host, token
    }' >"$1"
    chmod 600 "$1"
}

# Median wall time in milliseconds of RUNS runs of COMMAND (one warm-up run first).
median_ms() {
    "$@" </dev/null >/dev/null 2>&1
    local run start end
    for ((run = 0; run < RUNS; run++)); do
        start=${EPOCHREALTIME/./}
        "$@" </dev/null >/dev/null 2>&1
        end=${EPOCHREALTIME/./}
        echo $((end - start))
    done | sort -g | awk '{ value[NR] = $1 }
        END { if (NR % 2) m = value[(NR + 1) / 2]; else m = (value[NR / 2] + value[NR / 2 + 1]) / 2
              printf "%.1f\n", m / 1000 }'
}

measure() { # PROFILES: prints "<size> <read ms> <write ms>"
    local file=$work/cfg-$1
    make_config "$file" "$1"
    export DATABRICKS_CONFIG_FILE=$file
    local size read_ms write_ms
    size=$(wc -c <"$file")
    read_ms=$(median_ms "$BIN" secrets list-scopes --profile "p$1")
    write_ms=$(median_ms "$BIN" configure --profile "p$1" --host "$host" --token-file "$work/token")
    # The file still reads after the writes, with every profile in it.
    [[ $(grep -c '^\[p' "$file") -eq $1 ]]
    "$BIN" secrets list-scopes --profile "p$1" >/dev/null
    echo "$size $read_ms $write_ms"
}

echo "| config file | size | list-scopes (read + resolve + 1 call) | configure (read + write) |"
echo "|---|---|---|---|"
# Half and all of PROFILES: linear reading and writing double, quadratic ones quadruple.
for profiles in 1 $((PROFILES / 2)) "$PROFILES"; do
    read -r size read_ms write_ms < <(measure "$profiles")
    echo "| $profiles profiles | $((size / 1024)) KiB | $read_ms ms | $write_ms ms |"
done
echo "(median of $RUNS runs each, release build, $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo unknown))"
