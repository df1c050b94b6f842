#!/usr/bin/env bash
# A private, throw-away PostgreSQL cluster for the tests (tests/run uses it):
#
#   tests/postgres-cluster.sh start DIR   # initdb + pg_ctl start in DIR; prints the base URL
#   tests/postgres-cluster.sh stop DIR    # stops it and removes DIR
#   tests/postgres-cluster.sh kill DIR    # stops the server at once (an outage), keeps DIR
#   tests/postgres-cluster.sh restart DIR # starts a killed cluster again, on its port
#
# The cluster runs as an unprivileged user (PostgreSQL refuses to run as root:
# under root, `nobody` owns DIR and runs initdb and pg_ctl), listens on
# 127.0.0.1 only, on a free port, with trust authentication for 127.0.0.1 and
# its socket in DIR. Durability is off (fsync, full-page writes, and
# synchronous commit unless PG_SYNC_COMMIT=on): a test cluster is thrown
# away after the run. Each test creates its own database
# from the printed base URL (postgres://postgres@127.0.0.1:PORT).
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
if [[ -z "$cmd" || -z "$dir" ]]; then
  echo "usage: $0 start|stop|kill|restart DIR" >&2
  exit 2
fi

# The newest server version installed by the Debian packages.
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "$0: no PostgreSQL server under /usr/lib/postgresql (Debian package postgresql)" >&2
  exit 1
fi

# As root, run the server as nobody; otherwise as the current user.
as_owner=()
if [[ "$(id -u)" -eq 0 ]]; then
  as_owner=(runuser -u nobody --)
fi

case "$cmd" in
start)
  mkdir -p "$dir"
  [[ ${#as_owner[@]} -eq 0 ]] || chown nobody "$dir"
  chmod 700 "$dir"
  "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    echo "max_connections = 400"
    echo "fsync = off"
    echo "full_page_writes = off"
    # Commits may return before their WAL is written: a killed server
    # (an outage test) then loses the last ones. PG_SYNC_COMMIT=on keeps
    # every acknowledged commit (fsync off still survives a killed server,
    # just not a crashed machine).
    echo "synchronous_commit = ${PG_SYNC_COMMIT:-off}"
  } >>"$dir/data/postgresql.conf"
  # A free port: ask the kernel for one, then let pg_ctl try it; another
  # program may take it in between, so a few attempts.
  for attempt in 1 2 3 4 5; do
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    if "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port" start >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      echo "postgres://postgres@127.0.0.1:$port"
      exit 0
    fi
    echo "$0: PostgreSQL did not start on port $port (attempt $attempt)" >&2
  done
  tail -20 "$dir/server.log" >&2 || true
  exit 1
  ;;
kill)
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
restart)
  port="$(cat "$dir/port")"
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port" start >/dev/null
  ;;
stop)
  if [[ -d "$dir/data" ]]; then
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop|kill|restart DIR" >&2
  exit 2
  ;;
esac
