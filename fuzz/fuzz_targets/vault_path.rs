//! Fuzz target: `tenantguard_fuzz::checks::vault_path` (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tenantguard_fuzz::checks::vault_path(data));
