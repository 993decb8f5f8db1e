# Sourced by the benchmark scripts: builds the release binaries, sets BIN and EMULATOR, and
# makes a work directory that is removed on exit together with the emulator (whose PID the
# script stores in emulator_pid once it starts one).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked -p databricks-secrets -p databricks-emulator >&2
BIN=$PWD/target/release/databricks
EMULATOR=$PWD/target/release/databricks-emulator

work=$(mktemp -d)
emulator_pid=
cleanup() {
    if [[ -n $emulator_pid ]]; then kill "$emulator_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
