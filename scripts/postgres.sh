#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests (Debian's packages; installed if missing)
# and print the URL to use as VOC_TEST_PG_URL. Usage: eval "$(scripts/postgres.sh start)"; scripts/postgres.sh stop
set -euo pipefail
dir="${VOC_PG_DIR:-/tmp/voc-pg}"
port="${VOC_PG_PORT:-55432}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ "${1:-start}" = "stop" ]; then
  [ -n "$bin" ] && [ -d "$dir/data" ] && { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" stop -m fast; else "$bin/pg_ctl" -D "$dir/data" stop -m fast; fi; } >&2 || true
  exit 0
fi
if [ -z "$bin" ]; then
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }  # postgres refuses to run as root
mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
if [ ! -f "$dir/data/PG_VERSION" ]; then
  as_pg "$bin/initdb" -D "$dir/data" -U voc --auth=trust >&2
fi
if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >&2
fi
as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U voc -d postgres -tc "SELECT 1 FROM pg_database WHERE datname='voc_test'" | grep -q 1 \
  || as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U voc voc_test >&2
echo "export VOC_TEST_PG_URL=postgresql+psycopg://voc@127.0.0.1:$port/voc_test"
