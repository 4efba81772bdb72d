"""Dense integer arrays to and from JSON text without a Python object per element (NumPy only).

`json.dumps(array.tolist())` and `np.asarray(json.loads(text))` make one Python int per element, which
costs most of a REST request that carries raw frames (32 x 48 x 48 x 3 uint8 is 221,184 ints). These
functions do the same conversions with a few vectorized NumPy passes over the bytes:

- `dumps_int_array(array)`: compact JSON text (`[[1,2],[3,4]]`) of an integer array whose values lie in
  a small range (uint8, int8, int16, uint16 ...); None for anything else (the caller uses json.dumps).
- `find_array_spans(body)`: the long `[...]` runs of a JSON body made only of integers, brackets, commas
  and whitespace, as (start, end) offsets; a run is only a candidate (unbalanced, or inside a string).
- `loads_int_array(span)`: the int64 array of one such span when it is exactly what TF Serving would
  accept as a dense tensor (valid JSON integers, every list the size of the first one at its level, all
  leaves at the same depth, no empty list); None otherwise, so that the caller takes the exact path and
  gives TF Serving's error.
"""

import functools

import numpy as np

_OPEN, _CLOSE, _COMMA, _MINUS, _ZERO = b"[", b"]", b",", b"-", b"0"
# Character classes: digit, minus, open, close, comma, whitespace; anything else is OTHER.
_DIGIT, _SIGN, _OPENING, _CLOSING, _SEPARATOR, _SPACE, _OTHER = range(7)
_CLASS = np.full(256, _OTHER, np.uint8)
_CLASS[ord("0") : ord("9") + 1] = _DIGIT
_CLASS[ord("-")] = _SIGN
_CLASS[ord("[")], _CLASS[ord("]")], _CLASS[ord(",")] = _OPENING, _CLOSING, _SEPARATOR
_CLASS[[ord(c) for c in " \t\r\n"]] = _SPACE
_CLASS_TABLE = _CLASS.tobytes()  # for bytes.translate, much faster than indexing with NumPy
_IN_ARRAY_TABLE = (_CLASS != _OTHER).astype(np.uint8).tobytes()  # 1 for characters an integer array may hold
_MIN_SPAN = 1024  # shorter arrays are cheap enough through json
_MAX_DIGITS = 18  # an int64 holds every 18-digit integer
_POWERS = 10 ** np.arange(_MAX_DIGITS, dtype=np.int64)
_TABLE_RANGE = 1 << 17  # value ranges up to this use a lookup table of tokens


@functools.lru_cache(maxsize=16)
def _token_table(low: int, high: int, suffix: bytes) -> np.ndarray:
    """Every integer in [low, high] followed by `suffix` as ASCII, zero-padded to one width: (count, width)."""
    tokens = [str(value).encode("ascii") + suffix for value in range(low, high + 1)]
    width = max(len(token) for token in tokens)
    return np.frombuffer(b"".join(token.ljust(width, b"\0") for token in tokens), np.uint8).reshape(-1, width)


def dumps_int_array(array: np.ndarray) -> bytes | None:
    """Compact JSON text of an integer array (rank >= 1, no empty axis), or None when not applicable."""
    array = np.asarray(array)
    if array.dtype.kind not in "iu" or array.ndim == 0 or array.size == 0:
        return None
    low, high = int(array.min()), int(array.max())
    if high - low >= _TABLE_RANGE:
        return None
    rank, length = array.ndim, array.shape[-1]
    values = array.reshape(-1, length).astype(np.int64) - low  # one innermost list per row
    rows, outer = len(values), rank - 1
    with_comma, with_close = _token_table(low, high, _COMMA), _token_table(low, high, _CLOSE)
    width = with_comma.shape[1]
    # Each row: "[" + "v," ... + "v]" + separator ("]" * k + "," + "[" * k where k outer lists end here).
    text = np.zeros((rows, 1 + length * width + 2 * outer + 1), np.uint8)
    text[:, 0] = ord(_OPEN)
    text[:, 1 : 1 + (length - 1) * width] = with_comma[values[:, :-1]].reshape(rows, -1)
    text[:, 1 + (length - 1) * width : 1 + length * width] = with_close[values[:, -1]]
    row_index = np.arange(1, rows + 1)
    closing = np.zeros(rows, np.int64)  # outer lists that end with this row
    for axis in range(outer):
        closing += row_index % int(np.prod(array.shape[axis:-1])) == 0
    separator = 1 + length * width
    levels = np.arange(outer)
    text[:, separator : separator + outer] = np.where(levels < closing[:, None], ord(_CLOSE), 0)
    text[:, separator + outer] = ord(_COMMA)
    text[:, separator + outer + 1 :] = np.where(levels < closing[:, None], ord(_OPEN), 0)
    text[-1, separator:] = 0  # the last row closes the outer lists below, with no separator
    flat = text.reshape(-1)
    return _OPEN * outer + flat[flat != 0].tobytes() + _CLOSE * outer


def find_array_spans(body: bytes) -> list[tuple[int, int]]:
    """(start, end) from the first "[" to the last "]" of each long run of integer-array characters.

    A span is only a candidate: it may be unbalanced or inside a string; `loads_int_array` and the JSON
    parse of the rest of the body catch both.
    """
    in_array = body.translate(_IN_ARRAY_TABLE)
    long_run = b"\x01" * _MIN_SPAN
    spans, position = [], 0
    while (run_start := in_array.find(long_run, position)) >= 0:
        run_end = in_array.find(b"\x00", run_start)
        run_end = len(body) if run_end < 0 else run_end
        start, end = body.find(_OPEN, run_start, run_end), body.rfind(_CLOSE, run_start, run_end)
        if 0 <= start < end:
            spans.append((start, end + 1))
        position = run_end
    return spans


def _expected_skeleton(shape: tuple[int, ...]) -> bytes:
    """The compact JSON of a dense array of this shape with every element written as 0."""
    text = _ZERO
    for size in reversed(shape):
        text = _OPEN + _COMMA.join([text] * size) + _CLOSE
    return text


def _first_list_sizes(skeleton: bytes, rank: int) -> tuple[int, ...] | None:
    """The dense shape a well-formed skeleton has (from the first list at each level), or None.

    In a dense array every item of a list has the same skeleton length, so the size of the first list at
    each level follows from where it and its first item end; the caller compares the whole skeleton with
    the one of this shape, which catches everything else.
    """
    shape = []
    item_length = 1  # a number's skeleton is one "0"
    for level in reversed(range(rank)):
        end = skeleton.find(_CLOSE * (rank - level))  # where the first list at `level` and those inside end
        if end < 0:
            return None
        end += rank - level - 1  # its own "]"
        size, remainder = divmod(end - level, item_length + 1)
        if remainder or size < 1:
            return None
        shape.append(size)
        item_length = end - level + 1
    return tuple(reversed(shape))


def loads_int_array(span: bytes) -> np.ndarray | None:
    """The int64 array of a JSON integer array, or None when it is not a well-formed dense one."""
    chars = np.frombuffer(span, np.uint8)
    classes = np.frombuffer(span.translate(_CLASS_TABLE), np.uint8)
    if not classes.size or (classes == _OTHER).any():
        return None
    is_number = classes <= _SIGN
    starts, ends = is_number.copy(), is_number.copy()
    starts[1:] &= ~is_number[:-1]
    ends[:-1] &= ~is_number[1:]
    # The bracket/comma skeleton with one 0 per number must be that of the shape TF Serving infers.
    keep = starts | ((classes >= _OPENING) & (classes <= _SEPARATOR))
    skeleton = np.where(starts, np.uint8(ord(_ZERO)), chars)[keep].tobytes()
    rank = len(skeleton) - len(skeleton.lstrip(_OPEN))
    shape = _first_list_sizes(skeleton, rank) if rank else None
    if shape is None or skeleton != _expected_skeleton(shape):
        return None
    # Valid JSON integers: a minus sign only first and not alone, no leading zero, at most 18 digits.
    start_index, end_index = np.flatnonzero(starts), np.flatnonzero(ends)
    negative = classes[start_index] == _SIGN
    minus_count = int(np.count_nonzero(classes == _SIGN))
    if minus_count != int(np.count_nonzero(negative)) or (negative & (start_index == end_index)).any():
        return None
    first_digit = start_index + negative
    if ((chars[first_digit] == ord(_ZERO)) & (first_digit < end_index)).any():
        return None
    longest = int((end_index - first_digit).max()) + 1
    if longest > _MAX_DIGITS:
        return None
    values = chars[end_index].astype(np.int64) - ord(_ZERO)
    for place in range(1, longest):  # the digit `place` positions before the last one, where there is one
        position = end_index - place
        digit = chars[np.maximum(position, 0)].astype(np.int64) - ord(_ZERO)
        values += np.where(position >= first_digit, digit, 0) * _POWERS[place]
    values[negative] *= -1
    return values.reshape(shape)
