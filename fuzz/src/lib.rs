//! Shared by the fuzz targets: the properties they check live in
//! `checks.rs`, which `tests/fuzz_regressions.rs` also includes so the
//! committed corpora replay in the normal test suite.

pub mod checks;
