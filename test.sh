#!/usr/bin/env bash
# Install (first run only) with the test extras, then run the whole test suite.
# Extra arguments go to pytest (e.g. ./test.sh -k api).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
. .venv/bin/activate
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
