#![no_main]
//! See `campaignd::fuzz_support` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| campaignd::fuzz_support::run("callback_blu", data));
