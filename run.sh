#!/usr/bin/env bash
# Install (first run only), score the bundled sample export with the embedded
# default model, then serve the API on http://127.0.0.1:8000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
. .venv/bin/activate
mkdir -p out
voc score data/samples/reviews.csv -o out/sample.scored.csv --id-col id
echo "→ out/sample.scored.csv (first rows below)" >&2
head -n 6 out/sample.scored.csv
echo "→ starting the API: try  curl -s localhost:${VOC_PORT:-8000}/v1/analyze -H 'content-type: application/json' -d '{\"text\":\"物流很快，但是衣服有色差\"}'" >&2
exec voc serve --host "${VOC_HOST:-127.0.0.1}" --port "${VOC_PORT:-8000}"
