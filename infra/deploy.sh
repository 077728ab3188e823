#!/usr/bin/env bash
# The one way to build and deploy the SAM application: it prepares the tools and runs `sam`
# with the right PATH, so the documented path cannot go wrong.
#
#   infra/deploy.sh tools                 venvs from infra/requirements-*.txt, the arm64 Rust
#                                         target, and a check that cargo-lambda finds zig
#   infra/deploy.sh build [Function ...]  `sam build` (every function, or the logical ids named,
#                                         e.g. HomeFunction); release, arm64, ~10 min for all
#   infra/deploy.sh deploy [sam args ...] `sam deploy` (add --guided the first time)
#   infra/deploy.sh check                 what the README's deploy section does up to AWS: tools,
#                                         `sam build` of every function, then a bootstrap per
#                                         function that is an arm64 executable (~10 min)
#
# Why PATH matters: `sam build` runs `cargo lambda`, which looks for zig through `python3 -m
# ziglang`. Only .venv-build's python3 has ziglang (aws-sam-cli and ziglang live in separate
# venvs: their pins conflict). So .venv-build/bin goes first on PATH and SAM is called by its
# full path, never found on PATH: its python3 can never shadow the build venv's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

say() { printf '\n== %s\n' "$*"; }

tools() {
  # shellcheck source=tools.sh
  source infra/tools.sh
  ensure_sam_venv
  ensure_build_venv
  export PATH="$ROOT/.venv-build/bin:$PATH"
  export SAM_CLI_TELEMETRY=0
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    say "rustup target add aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu
  fi
  # cargo-lambda's own view of its tools (`cargo lambda system`): with SAM's python3 first on
  # PATH it lists install options instead of a zig command, and `sam build` would fail later
  # with "Zig is not installed".
  say "cargo-lambda and zig"
  local python system
  python="$(command -v python3)"
  [ "$python" = "$ROOT/.venv-build/bin/python3" ] \
    || { echo "python3 on PATH is $python, not .venv-build's" >&2; exit 1; }
  echo "$(cargo lambda --version)"
  system="$(cargo lambda system)"
  sed -n '/^zig:/,/^[a-z]/p' <<<"$system" | sed '$d'
  grep -q '^  command: ' <<<"$system" \
    || { echo "cargo-lambda does not find zig (see above)" >&2; exit 1; }
}

sam() { "$ROOT/.venv-sam/bin/sam" "$@"; }

build() {
  tools
  # The postal table ships beside the functions, not in a binary: the layer PostalLayer holds
  # build/postal-layer, whose postal/ directory Lambda mounts as /opt/postal.
  say "postal table"
  infra/postal.sh build/postal-layer/postal
  say "sam build $*"
  local start=$SECONDS
  sam build "$@"
  say "sam build took $((SECONDS - start)) s"
}

deploy() {
  [ -f .aws-sam/build/template.yaml ] \
    || { echo "nothing built yet: run infra/deploy.sh build first" >&2; exit 1; }
  tools
  say "sam deploy $*"
  sam deploy "$@"
}

# Every function in the template was built for arm64 by the path above.
check() {
  build
  say "every function has an arm64 bootstrap"
  local ids
  # Logical ids of the resources typed AWS::Serverless::Function (not Globals' `Function:`).
  mapfile -t ids < <(awk '/^  [A-Za-z0-9]+:$/ { id = substr($1, 1, length($1) - 1) }
    /^    Type: AWS::Serverless::Function$/ { print id }' template.yaml)
  [ "${#ids[@]}" -gt 0 ] || { echo "no functions found in template.yaml" >&2; exit 1; }
  local id boot
  for id in "${ids[@]}"; do
    boot=".aws-sam/build/$id/bootstrap"
    [ -x "$boot" ] || { echo "$id: no $boot" >&2; exit 1; }
    # ELF header: e_machine at byte 18 is 0xb7 (183) for aarch64.
    [ "$(od -An -tu1 -j18 -N1 "$boot" | tr -d ' ')" = 183 ] \
      || { echo "$id: $boot is not an arm64 executable" >&2; exit 1; }
    printf '%-22s %s bytes\n' "$id" "$(stat -c %s "$boot")"
  done
  say "deploy check passed: ${#ids[@]} functions built as the README says"
}

case "${1:-}" in
  tools) tools ;;
  build) shift; build "$@" ;;
  deploy) shift; deploy "$@" ;;
  check) check ;;
  *) echo "usage: infra/deploy.sh tools | build [FunctionId ...] | deploy [sam deploy args] | check" >&2; exit 64 ;;
esac
