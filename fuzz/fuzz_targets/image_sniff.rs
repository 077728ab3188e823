//! Fuzz target `image_sniff`: any bytes through `myna::fuzzing::image`, which panics when a
//! property of the parser breaks (see that function's documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| myna::fuzzing::image(data));
