"""Runs ``function`` on the next item of an iterable in a thread while the caller works on this one.

    for chunk, payload in prefetch(reader, classifier.encode):
        probabilities = classifier.classify(payload)   # e.g. waits on the server ...
        ...                                            # ... while the next chunk is resized and encoded

Through a server the client would otherwise sit idle while each request is answered, then resize
and encode the next chunk while the server sits idle: one step at a time on two cores. With this,
the two overlap. One item is worked on ahead (``depth``), so memory stays that of one more chunk.
An exception in the iterable or in ``function`` is raised in the caller's thread, at the item where
it happened; when the caller stops early (break, error), ``close`` stops the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_END = object()


def put_unless_set(into: queue.Queue, item, stopped: threading.Event) -> bool:
    """Puts ``item`` into the bounded queue ``into``, waiting for room; gives up (False) once
    ``stopped`` is set, so a producer never hangs on a consumer that has gone."""
    while not stopped.is_set():
        try:
            into.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def drain(source: queue.Queue, end: object) -> Iterator:
    """The items a producer thread puts into ``source``, up to ``end``; an exception it puts there
    (it failed) is raised here, in the consumer's thread."""
    while True:
        item = source.get()
        if item is end:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class prefetch:  # noqa: N801 (used like a generator function)
    def __init__(self, iterable: Iterable, function: Callable[[Any], Any], depth: int = 1):
        self._iterable, self._function = iterable, function
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def _put(self, item) -> bool:
        return put_unless_set(self._queue, item, self._stop)

    def _run(self) -> None:
        try:
            for item in self._iterable:
                if not self._put((item, self._function(item))):
                    return
            self._put(_END)
        except BaseException as error:  # raised again in the caller's thread
            self._put(error)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        self._thread.start()
        try:
            yield from drain(self._queue, _END)
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)  # a daemon thread: one still waiting on its source ends with it
