//! Real-browser journeys (`infra/test.sh browser`): the product as people use it, in headless
//! Chromium driven over WebDriver, against the `myna-local` binary on a free loopback port with
//! a fresh data dir. An administrator at 1280×900 and a registrant on a 390×844 phone (the
//! phone pages also at 320 and 360) walk the whole collection → approval → use → disposal path;
//! every page is checked for sideways scrolling, console errors and axe-core violations
//! (`myna_tests::browser::Tab::check`), and afterwards the plaintext scan looks for the typed
//! numbers and the photos' bytes in everything the product left behind.
//!
//! `test = false`: `cargo test` alone does not run it (it needs Chromium, chromedriver, axe-core
//! and a built `myna-local`, which the script provides).

#![allow(clippy::unwrap_used)]

mod journey;
mod photos;
