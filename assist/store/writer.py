"""StoreSink: the pipeline's sink into the call store, one writer thread fed by a queue.

The pipeline's coordinator must never wait on a database, so ``__call__`` only enqueues; the
writer thread commits each event as it arrives (see :class:`CallRecorder`). Killing the
process therefore loses at most the event being written, and the next start marks the call
it interrupted as ended abruptly, with a summary rebuilt from what was stored.
"""

from __future__ import annotations

import functools
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from assist.config import StoreConfig
from assist.events import Event
from assist.store.db import describe, open_engine, resolve_url, session_factory
from assist.store.recorder import CallRecorder, RecorderSettings, mark_abrupt_ends

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 30.0  # how long close() waits for queued events to reach the database
RETRY_PAUSES_S = (0.5, 2.0, 5.0)  # after a lost connection; then the event is logged and dropped
_STOP = object()


def host_name() -> str:
    return socket.gethostname() or "localhost"


class StoreSink:
    """Records every call event into the store from one background thread."""

    def __init__(self, url: str | None, store: StoreConfig) -> None:
        self._url = resolve_url(url)
        self._engine = open_engine(self._url)
        sessions = session_factory(self._engine)
        settings = RecorderSettings(agent=store.agent_name(), host=host_name(),
                                    flag_anger=store.flag_anger, keep_audio=store.keep_audio)
        with sessions.begin() as session:
            mark_abrupt_ends(session, settings.agent, settings.host)
        self._recorder = CallRecorder(sessions, settings)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        log.info("recording calls to %s", describe(self._url))

    def __call__(self, event: Event) -> None:
        self._queue.put(event)

    def close(self) -> None:
        """Write what is queued, end any open call and release the database."""
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join(CLOSE_TIMEOUT_S)
        if self._thread.is_alive():
            log.error("the store writer did not finish within %.0f s; some events are lost",
                      CLOSE_TIMEOUT_S)
        self._engine.dispose()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._safely("the end of the call", lambda: self._recorder.close(time.time()))
                return
            event: Event = item  # type: ignore[assignment]
            self._safely(type(event).__name__, functools.partial(self._recorder.record, event))

    @staticmethod
    def _safely(what: str, write: Callable[[], None]) -> None:
        for attempt, pause in enumerate((*RETRY_PAUSES_S, None), start=1):
            try:
                write()
                return
            except OperationalError as e:
                # A team server can blip (restart, network); wait and write it again.
                if pause is None:
                    log.error("could not store %s after %d attempts: %s", what, attempt, e)
                    return
                log.warning("storing %s failed (%s); retrying in %.1f s", what, e, pause)
                time.sleep(pause)
            except Exception:
                # One bad write (a database error, an event the recorder cannot encode) must
                # not stop the recording of the rest of the call.
                log.exception("could not store %s", what)
                return
