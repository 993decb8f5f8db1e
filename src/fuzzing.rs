//! Case counts for the fuzz-style property tests of every parser of outside input.
//!
//! Each such test is named `fuzz_<parser>` and takes its case count from `fuzz_config()`, so the
//! ordinary test run stays quick while `FUZZ_CASES=1000000 cargo test --release --locked fuzz_`
//! runs every parser through a million generated inputs.

use proptest::test_runner::Config;

/// Cases per fuzz test when `FUZZ_CASES` is not set: enough to catch regressions in `cargo test`.
const DEFAULT_CASES: u32 = 512;

/// The proptest configuration every `fuzz_*` test uses: `FUZZ_CASES` cases, no shrinking
/// persistence files, and a bounded total time so a pathological input cannot hang the run.
pub fn fuzz_config() -> Config {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
