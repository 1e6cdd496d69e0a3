# Shared helpers for the bash scripts in scripts/. Source it; it defines functions only.
# shellcheck shell=bash

ASSIST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ASSIST_VENV="$ASSIST_ROOT/.venv"
ASSIST_PY="$ASSIST_VENV/bin/python"

# Name of the script that sourced us, for messages ("setup: ...").
ASSIST_SCRIPT="$(basename "${0:-assist}")"

info() { printf '%s: %s\n' "$ASSIST_SCRIPT" "$*"; }
warn() { printf '%s: warning: %s\n' "$ASSIST_SCRIPT" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$ASSIST_SCRIPT" "$*" >&2
    exit 2
}

is_root() { [ "$(id -u)" -eq 0 ]; }

have() { command -v "$1" >/dev/null 2>&1; }

# wait_until SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds or time runs out.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# free_tcp_port: a port on 127.0.0.1 nobody listens on right now (the kernel picks it).
free_tcp_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_pid PID [NAME]: TERM a process we started, KILL it if it is still there after 5 s.
stop_pid() {
    local pid="$1" name="${2:-process}"
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until 5 bash -c "! kill -0 $pid"; then
        warn "$name (pid $pid) ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
