# A private X screen (Xvfb 1024x600x24) with openbox, so -topmost windows really stay on
# top. Needs common.sh. Recipe: ../shared/test-environment.md ("Screen").
# shellcheck shell=bash

XVFB_PID=""
OPENBOX_PID=""

display_taken() {
    [ -e "/tmp/.X11-unix/X$1" ] || [ -e "/tmp/.X$1-lock" ]
}

# xvfb_answers N: wait up to 10 s for the Xvfb we just started on :N to take connections;
# fails at once if it exited (display taken by someone else in the meantime).
xvfb_answers() {
    local deadline=$((SECONDS + 10))
    until xdpyinfo -display ":$1" >/dev/null 2>&1; do
        kill -0 "$XVFB_PID" 2>/dev/null || return 1
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# xvfb_start FIRST LOGDIR: start Xvfb on the first free display number from FIRST up
# (other people's screens are recognised by their socket or lock file), then openbox.
# Exports DISPLAY and ASSIST_TEST_DISPLAY=1.
xvfb_start() {
    local first="$1" logdir="$2" n
    for ((n = first; n < first + 50; n++)); do
        display_taken "$n" && continue
        Xvfb ":$n" -screen 0 1024x600x24 -nolisten tcp >"$logdir/xvfb.log" 2>&1 &
        XVFB_PID=$!
        if xvfb_answers "$n"; then
            export DISPLAY=":$n"
            openbox --sm-disable >"$logdir/openbox.log" 2>&1 &
            OPENBOX_PID=$!
            export ASSIST_TEST_DISPLAY=1
            return 0
        fi
        # Lost a race for this display with someone else: try the next one.
        stop_pid "$XVFB_PID" Xvfb
        XVFB_PID=""
    done
    warn "no free X display between :$first and :$((first + 49)); log: $logdir/xvfb.log"
    return 1
}

xvfb_stop() {
    stop_pid "$OPENBOX_PID" openbox
    stop_pid "$XVFB_PID" Xvfb
    OPENBOX_PID=""
    XVFB_PID=""
}
