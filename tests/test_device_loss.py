"""The capture device vanishing mid-call (the null sink unloaded) and coming back: the source
reports DEVICE_LOST, reconnects by itself, reports RESUMED and keeps audio time on the wall
clock, without the program restarting."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from audio_helpers import require_tool

from assist.audio import open_live
from assist.audio.sources import AudioBlock
from assist.config import AudioConfig
from assist.events import AudioState, AudioStatus

pytestmark = [pytest.mark.live, pytest.mark.slow]

SINK = "call"


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True,
                          timeout=10).stdout


def null_sink_module() -> tuple[str, str] | None:
    """(module id, its arguments) of the null sink named SINK, or None when it is not loaded."""
    for line in pactl("list", "short", "modules").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[1] == "module-null-sink" and f"sink_name={SINK}" in fields[2]:
            return fields[0], fields[2]
    return None


def load_sink(arguments: str) -> None:
    pactl("load-module", "module-null-sink", *arguments.split())
    pactl("set-default-sink", SINK)
    pactl("set-default-source", f"{SINK}.monitor")


@pytest.fixture
def sink(require_pulse: str) -> Iterator[tuple[str, str]]:
    """The test environment's null sink, put back exactly as it was whatever the test does."""
    require_tool("pactl")
    module = null_sink_module()
    if module is None:
        pytest.skip(f"no null sink named '{SINK}' (scripts/test creates it)")
    yield module
    if null_sink_module() is None:
        load_sink(module[1])


def test_lost_device_is_reported_retried_and_resumed(sink: tuple[str, str]) -> None:
    module_id, arguments = sink
    source = open_live(AudioConfig(customer_device="pulse", customer_channel="right",
                                   reconnect_seconds=0.3))
    seen: queue.Queue[tuple[float, AudioBlock | AudioState]] = queue.Queue()

    def capture() -> None:
        for item in source.blocks():
            seen.put((time.monotonic(), item))

    def wait_for(want: AudioStatus | type, timeout: float) -> tuple[float, AudioBlock | AudioState]:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                arrived, item = seen.get(timeout=remaining)
            except queue.Empty:
                break
            history.append((arrived, item))
            if (isinstance(item, AudioState) and item.status is want) or (
                    isinstance(want, type) and isinstance(item, want)):
                return arrived, item
        pytest.fail(f"no {want} within {timeout} s; saw {[i for _, i in history[-5:]]}")

    history: list[tuple[float, AudioBlock | AudioState]] = []
    thread = threading.Thread(target=capture, daemon=True)
    thread.start()
    try:
        wait_for(AudioStatus.LISTENING, 5)
        wait_for(AudioBlock, 5)
        time.sleep(0.5)

        pactl("unload-module", module_id)
        unloaded = time.monotonic()
        lost_at, lost = wait_for(AudioStatus.DEVICE_LOST, 8)
        assert lost_at - unloaded < 3.0

        time.sleep(1.5)  # stay lost across several reconnect attempts
        load_sink(arguments)
        resumed_at, resumed = wait_for(AudioStatus.RESUMED, 10)
        _, after = wait_for(AudioBlock, 5)
        for _ in range(20):
            wait_for(AudioBlock, 5)
    finally:
        source.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()

    assert isinstance(lost, AudioState) and isinstance(resumed, AudioState)
    assert isinstance(after, AudioBlock)
    blocks = [item for _, item in history if isinstance(item, AudioBlock)]
    times = [b.t for b in blocks]
    assert times == sorted(times)
    # Audio time jumped over the silent stretch by about the wall time it lasted.
    before = max((b for b in blocks if b.t < lost.t + 0.01), key=lambda b: b.t)
    jump = after.t - (before.t + len(before.customer) / 16_000)
    assert resumed_at - lost_at - 1.0 < jump < resumed_at - lost_at + 1.5
    assert resumed.t == pytest.approx(after.t, abs=0.05)
