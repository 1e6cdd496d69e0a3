# A private PulseAudio daemon with one null sink "call" (16 kHz stereo), for tests that
# play audio in and record it back through sounddevice. Needs common.sh.
# Recipe and pitfalls: ../shared/test-environment.md ("Audio").
# shellcheck shell=bash

# pulse_start DIR: start the daemon with its socket, state and log in DIR, and export
# XDG_RUNTIME_DIR, PULSE_SERVER, PULSE_SINK, PULSE_SOURCE, ASSIST_TEST_PULSE=1.
pulse_start() {
    local dir="$1"
    mkdir -p "$dir/state"
    chmod 700 "$dir"
    cat >"$dir/daemon.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 auth-cookie-enabled=0 socket=$dir/pulse.sock
load-module module-null-sink sink_name=call format=s16le rate=16000 channels=2 channel_map=front-left,front-right norewinds=1
set-default-sink call
set-default-source call.monitor
PA
    # Runtime, state and cookie live in DIR so nothing lands in the user's home (which may
    # not exist on CI). The server takes anonymous clients; the cookie only quiets clients.
    export XDG_RUNTIME_DIR="$dir" PULSE_RUNTIME_PATH="$dir" PULSE_STATE_PATH="$dir/state"
    export PULSE_COOKIE="$dir/cookie"
    head -c 256 /dev/zero >"$PULSE_COOKIE"
    pulseaudio -n -F "$dir/daemon.pa" --exit-idle-time=-1 --daemonize=yes \
        --use-pid-file=yes --log-target="file:$dir/pulse.log" 2>"$dir/pulse.stderr" ||
        return 1
    export PULSE_SERVER="unix:$dir/pulse.sock" PULSE_SINK=call PULSE_SOURCE=call.monitor
    if ! wait_until 10 pactl info; then
        warn "PulseAudio did not answer within 10 s; log: $dir/pulse.log"
        return 1
    fi
    export ASSIST_TEST_PULSE=1
}

# pulse_stop DIR: stop the daemon pulse_start started in DIR (no-op if it is not running).
pulse_stop() {
    local dir="$1" pid=""
    [ -f "$dir/pid" ] && pid="$(cat "$dir/pid")"
    if [ -S "$dir/pulse.sock" ]; then
        PULSE_SERVER="unix:$dir/pulse.sock" pactl exit >/dev/null 2>&1 || true
    fi
    if [ -n "$pid" ]; then
        # The daemon is not our child, so poll rather than wait.
        if ! wait_until 5 bash -c "! kill -0 $pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
}
