//! Fuzz target `era_date`: any bytes through `myna::fuzzing::era_date`, which panics when a
//! property of the parser breaks (see that function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| myna::fuzzing::era_date(data));
