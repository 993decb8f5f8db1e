#!/usr/bin/env bash
# Builds the release archive for one target, as the release workflow does for each of its targets:
#
#   scripts/release.sh [TARGET]        # TARGET defaults to this machine's, e.g. x86_64-unknown-linux-gnu
#   RELEASE_CARGO=cross scripts/release.sh aarch64-unknown-linux-musl
#
# It writes target/dist/databricks-secrets-TARGET.tar.gz (.zip for Windows) holding one folder of
# the same name with `databricks`, `databricks-emulator`, man/*.1, README.md, LICENSE and
# CHANGELOG.md, and beside it a `.sha256` file in `sha256sum` format.
#
# RELEASE_CARGO names the program that builds the binaries (default cargo; the workflow uses cross
# for Linux). The man pages do not depend on the target, so this machine's cargo writes them
# (a test in src/cli/man.rs does it, so the binary itself carries no generator).
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
target=${1:-$host}
builder=${RELEASE_CARGO:-cargo}
name="databricks-secrets-$target"
dist=target/dist
stage="$dist/$name"

case "$target" in
  *windows*) exe=.exe archive="$name.zip" ;;
  *) exe='' archive="$name.tar.gz" ;;
esac
echo "== building databricks and databricks-emulator for $target with $builder"
build=("$builder" build --release --locked --workspace --bins --target "$target")
if [[ "$target" == *windows-msvc ]]; then
  # Windows binaries carry the C runtime, so they run without the Visual C++ redistributable.
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" "${build[@]}"
else
  "${build[@]}"
fi

rm -rf "${stage:?}" "${dist:?}/$archive" "$dist/$archive.sha256"
mkdir -p "$stage/man"
for binary in databricks databricks-emulator; do
  cp "target/$target/release/$binary$exe" "$stage/"
done

echo "== writing the man pages"
# A relative path: the test runs in the package root, this folder (and on Windows no path
# conversion is involved).
DATABRICKS_SECRETS_MAN_DIR="$stage/man" cargo test --quiet --locked --bin databricks cli::man::
if ! ls "$stage"/man/databricks.1 >/dev/null 2>&1; then
  echo "error: no man pages were written; does src/cli/man.rs still read DATABRICKS_SECRETS_MAN_DIR?" >&2
  exit 1
fi
cp README.md LICENSE CHANGELOG.md "$stage/"

echo "== packing $dist/$archive"
(
  cd "$dist"
  case "$archive" in
    *.zip) if command -v zip >/dev/null; then zip -qr "$archive" "$name"; else 7z a -tzip -bd "$archive" "$name" >/dev/null; fi ;;
    *) tar -czf "$archive" "$name" ;;
  esac
  if command -v sha256sum >/dev/null; then sha256sum "$archive"; else shasum -a 256 "$archive"; fi >"$archive.sha256"
)
cat "$dist/$archive.sha256"
