#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hookr_fuzz::transcript::run(data));
