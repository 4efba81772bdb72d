"""serving.json_arrays: integer arrays to and from JSON text, checked against json and NumPy."""

import json

import numpy as np
import pytest

from serving.rest import json_arrays


@pytest.mark.parametrize(
    "shape, dtype, low, high",
    [((1, 4, 5, 5, 3), np.uint8, 0, 256), ((7,), np.int32, -50_000, 50_000), ((2, 1, 3), np.int64, -3, 3)],
)
def test_dumps_and_loads_match_json(shape, dtype, low, high):
    array = np.random.default_rng(1).integers(low, high, shape).astype(dtype)
    text = json_arrays.dumps_int_array(array)
    assert text == json.dumps(array.tolist(), separators=(",", ":")).encode("ascii")
    for spelling in (text, json.dumps(array.tolist(), indent=1).encode("ascii")):
        loaded = json_arrays.loads_int_array(spelling)
        assert loaded.shape == array.shape
        np.testing.assert_array_equal(loaded, array)


def test_dumps_declines_what_it_does_not_cover():
    assert json_arrays.dumps_int_array(np.float32([1.0])) is None
    assert json_arrays.dumps_int_array(np.zeros((2, 0), np.uint8)) is None
    assert json_arrays.dumps_int_array(np.int64([0, 10**12])) is None  # too wide a range for the token table


def test_loads_reads_signs_zeros_and_18_digits():
    values = json_arrays.loads_int_array(b"[-0, -12, 0, 999999999999999999]")
    assert values.tolist() == [0, -12, 0, 999999999999999999]


@pytest.mark.parametrize(
    "text",
    [b"[[1,2],[3]]", b"[[1],[2,3]]", b"[1,[2]]", b"[[1],2]", b"[01]", b"[-]", b"[1-2]", b"[--1]", b"[1 2]",
     b"[]", b"[[],[]]", b"[1,,2]", b"[1,2,]", b"[,1]", b"[[1,2]", b"[1.5]", b"[1e3]", b"[true]",
     b"[1234567890123456789]", b"1"],
)  # fmt: skip
def test_loads_declines_anything_but_a_dense_json_integer_array(text):
    assert json_arrays.loads_int_array(text) is None


def test_find_array_spans_gives_each_long_balanced_array():
    frames = json.dumps(np.zeros((40, 40), np.uint8).tolist()).encode("ascii")
    body = b'{"a": ' + frames + b', "b": [1, 2], "c": ' + frames + b"}"
    spans = json_arrays.find_array_spans(body)
    assert [body[start:end] for start, end in spans] == [frames, frames]
