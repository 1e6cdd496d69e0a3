# shellcheck shell=bash
# A private, throw-away PostgreSQL server for tests. Source this file, then:
#   pg_start DIR PORT   # initdb into DIR (if new), start on 127.0.0.1:PORT, create role and
#                       # database "assist" / "assist_test" (password assist, CREATEDB), and
#                       # export ASSIST_TEST_PG_URL
#   pg_stop DIR         # stop that server (the data stays in DIR; delete DIR to forget it)
# As root the server runs as the "postgres" user (PostgreSQL refuses to run as root); as
# anyone else it runs as that user. fsync is off: a test server need not survive power loss. The socket lives inside DIR, so several servers coexist.

_pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    done
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return 0
    echo "postgres.sh: no initdb found; install the postgresql package" >&2
    return 1
}

_pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    local dir="$1" port="$2" bin
    if [ -z "$dir" ] || [ -z "$port" ]; then
        echo "usage: pg_start DIR PORT" >&2; return 2
    fi
    bin="$(_pg_bin)" || return 1
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        _pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { echo "postgres.sh: initdb failed, see $dir/initdb.log" >&2; return 1; }
    fi
    _pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
        || { echo "postgres.sh: server did not start, see $dir/server.log" >&2; return 1; }
    _pg_as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt \
        -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || { echo "postgres.sh: role setup failed" >&2; return 1; }
SELECT 'CREATE ROLE assist LOGIN CREATEDB PASSWORD ''assist'''
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'assist')\gexec
SELECT 'CREATE DATABASE assist_test OWNER assist'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'assist_test')\gexec
SQL
    export ASSIST_TEST_PG_URL="postgresql+psycopg://assist:assist@127.0.0.1:$port/assist_test"
}

pg_stop() {
    local dir="$1" bin
    if [ -z "$dir" ]; then echo "usage: pg_stop DIR" >&2; return 2; fi
    [ -f "$dir/data/postmaster.pid" ] || return 0
    bin="$(_pg_bin)" || return 1
    _pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}
