"""serving.prefetch: the next item is prepared in a thread, in order, errors where they happen."""

import threading
import time

import pytest

from serving.classify.prefetch import prefetch


def test_items_come_in_order_with_their_result():
    assert list(prefetch(range(50), lambda n: n * n)) == [(n, n * n) for n in range(50)]


def test_the_next_item_is_prepared_while_the_caller_works():
    prepared = []

    def prepare(n):
        prepared.append(n)
        return n

    for item, _ in prefetch(range(3), prepare):
        if item == 0:
            deadline = time.monotonic() + 5
            while 1 not in prepared and time.monotonic() < deadline:
                time.sleep(0.01)
            assert 1 in prepared  # item 1 was worked on before the caller asked for it


def test_an_error_in_the_source_or_the_function_reaches_the_caller_at_its_item():
    def source():
        yield 1
        yield 2
        raise OSError("broken file")

    seen = []
    with pytest.raises(OSError, match="broken file"):
        for item, _ in prefetch(source(), lambda n: n):
            seen.append(item)
    assert seen == [1, 2]

    def fail_on_two(n):
        if n == 2:
            raise ValueError("bad frame")
        return n

    seen = []
    with pytest.raises(ValueError, match="bad frame"):
        for item, _ in prefetch(range(5), fail_on_two):
            seen.append(item)
    assert seen == [0, 1]


def test_stopping_early_stops_the_thread():
    before = threading.active_count()
    for item, _ in prefetch(iter(range(10_000)), lambda n: n):
        if item == 3:
            break
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
