//! Fuzz target `my_number`: any bytes through `myna::fuzzing::my_number`, which panics when a
//! property of the parser breaks (see that function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| myna::fuzzing::my_number(data));
