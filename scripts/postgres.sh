#!/usr/bin/env bash
# A private PostgreSQL server for tests, benchmarks and trials: its own data
# directory and port on loopback, run as a non-root user.
#
#   scripts/postgres.sh start   # prints the URL to use, e.g. for VSURVEY_TEST_POSTGRES
#   scripts/postgres.sh stop
#   scripts/postgres.sh restart # a restart while clients are connected
#
# VSURVEY_PG_DIR (default /tmp/vsurvey-postgres) and VSURVEY_PG_PORT
# (default 55432) choose where. The role `vsurvey` may create databases;
# loopback connections are trusted, so use this only for tests.
set -euo pipefail

dir="${VSURVEY_PG_DIR:-/tmp/vsurvey-postgres}"
port="${VSURVEY_PG_PORT:-55432}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$bin/pg_ctl" ]] || { echo "postgres.sh: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)" >&2; exit 1; }

# PostgreSQL refuses to run as root: root runs it as the postgres user.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url="postgres://vsurvey@127.0.0.1:$port/postgres"

case "${1:-start}" in
start)
    if [[ ! -f "$dir/PG_VERSION" ]]; then
        mkdir -p "$dir"
        [[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
        chmod 700 "$dir"
        as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = '$dir'"
            echo "max_connections = 200"
            echo "fsync = on"
        } | as_owner tee -a "$dir/postgresql.conf" >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
    fi
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAc \
        "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vsurvey') THEN CREATE ROLE vsurvey LOGIN CREATEDB; END IF; END \$\$;" >/dev/null
    echo "$url"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    ;;
restart)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w -l "$dir/server.log" restart >/dev/null
    echo "$url"
    ;;
*)
    echo "usage: scripts/postgres.sh start|stop|restart" >&2
    exit 2
    ;;
esac
