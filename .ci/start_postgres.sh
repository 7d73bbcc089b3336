#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the multi-worker tests and print its URL.
# Installs Debian's postgresql when missing. Runs as root; the server runs as `postgres`.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
# A free port, so a server left running by an earlier run does not get in the way.
port=${HPO_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
data=$(mktemp -d /tmp/hpo-pg.XXXXXX)
chown postgres:postgres "$data"
runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
if ! runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200" start >/dev/null
then
    cat "$data/log" >&2
    exit 1
fi
runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres hpo_test
echo "postgresql://postgres@127.0.0.1:$port/hpo_test"
