"""serving.rest_codec without HTTP: TF Serving's JSON request decoding and response encoding, and its errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

from serving.rest import rest_codec, rest_response
from serving.rest.rest_codec import ServingError

IMAGES = {"images": tf.uint8}
COMBINE = {"x": tf.float32, "offset": tf.int32}


def decode(body, input_dtypes):
    """Decodes a request body (bytes, or a JSON-able value) as the server does."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    document = rest_codec.parse_json(raw)
    return rest_codec.decode_predict_inputs(document, input_dtypes, b"true" in raw or b"false" in raw)


def error_of(body, input_dtypes) -> ServingError:
    with pytest.raises(ServingError) as caught:
        decode(body, input_dtypes)
    return caught.value


def test_row_and_columnar_formats_decode_to_the_same_arrays():
    pixels = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    rows, row_format = decode({"instances": pixels.tolist()}, IMAGES)
    columns, columnar_format = decode({"inputs": {"images": pixels.tolist()}}, IMAGES)
    assert row_format and not columnar_format
    for arrays in (rows, columns):
        assert arrays["images"].dtype == np.uint8
        np.testing.assert_array_equal(arrays["images"], pixels)


def test_named_instances_are_stacked_per_input():
    arrays, _ = decode({"instances": [{"x": [1, 2.5], "offset": 3}, {"x": [0, -1], "offset": -4}]}, COMBINE)
    np.testing.assert_array_equal(arrays["x"], np.float32([[1, 2.5], [0, -1]]))
    np.testing.assert_array_equal(arrays["offset"], np.int32([3, -4]))
    assert arrays["x"].dtype == np.float32 and arrays["offset"].dtype == np.int32


def test_strings_and_base64_become_bytes():
    arrays, _ = decode({"instances": ["hé", {"b64": "AAEC/w=="}]}, {"text": tf.string})
    assert arrays["text"].tolist() == ["hé".encode(), bytes([0, 1, 2, 255])]


@pytest.mark.parametrize(
    "body, input_dtypes, message",
    [
        (b"", IMAGES, "JSON Parse error: The document is empty"),
        (b"[1]", IMAGES, "JSON Value: [1] Is not object"),
        (b'{"instances": [1,', IMAGES, "JSON Parse error: Invalid value. at offset: 17"),
        (b"{" * 100_000, IMAGES, "JSON Parse error:"),
        ({"instances": [[1.5]]}, IMAGES, "JSON Value: 1.5 Type: Number is not of expected type: uint8"),
        ({"instances": [[True, 0]]}, IMAGES, "JSON Value: true Type: True is not of expected type: uint8"),
        ({"inputs": [[1, True]]}, {"x": tf.float32}, "JSON Value: true Type: True is not of expected type: float"),
        ({"inputs": [[1, "a"]]}, {"x": tf.float32}, 'JSON Value: "a" Type: String is not of expected type: float'),
        ({"inputs": [2**31]}, {"x": tf.int32}, "JSON Value: 2147483648 Type: Number is not of expected type: int32"),
        ({"inputs": [-1]}, {"x": tf.uint32}, "JSON Value: -1 Type: Number is not of expected type: uint32"),
        ({"inputs": [[0, 0], [0]]}, IMAGES, "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
        ({"inputs": [[0, [0]]]}, IMAGES, "Encountered list at unexpected level: 2 expected < 2"),
        (
            {"inputs": [[[0]], 0]},
            IMAGES,
            "JSON Value: 0 found at incorrect level: 2 in the JSON DOM. Expected at level: 3",
        ),
        ({"instances": [[1, 2], [3]]}, IMAGES, "Failed to process element: 1 of 'instances' list. Error: "),
        ({"instances": [[1, 2], [3]]}, IMAGES, "Expecting tensor size: 2 but got: 1"),
        ({"instances": [[1, 2], [[3, 4]]]}, IMAGES, "Expecting shape [2] but got: [1,2]"),
        ({"instances": [1, 2]}, COMBINE, "instances is a plain list, but expecting list of objects"),
        ({"inputs": {"x": [[1, 2]]}}, COMBINE, "Missing named input: offset in 'inputs' object."),
        ({"instances": [{"x": [1, 2]}]}, COMBINE, "keys must be equal to: offset,x"),
        ({"instances": [{"b64": "###"}]}, {"text": tf.string}, "Unable to base64 decode"),
        ({"predict": [1]}, IMAGES, "Missing 'inputs' or 'instances' key"),
    ],
)
def test_bad_requests_get_tf_serving_messages(body, input_dtypes, message):
    error = error_of(body, input_dtypes)
    assert message in error.message
    assert error.http_status == 400


def test_unsupported_dtype_is_unimplemented():
    error = error_of({"inputs": [1.0]}, {"values": tf.float16})
    assert error.message == "Conversion of JSON Value: 1.0 to type: half"
    assert error.http_status == 501


def test_integers_narrower_than_int32_wrap_like_tensorflow():
    # TF Serving range-checks uint8 as int32 and then truncates: 256 is accepted and becomes 0.
    arrays, _ = decode({"inputs": [[255, 256, -1]]}, IMAGES)
    assert arrays["images"].tolist() == [[255, 0, 255]]


def test_response_formats_and_float_tokens():
    outputs = {"probabilities": np.float32([[0.25, 1 / 3]]), "labels": np.array([b"red"], dtype=object)}
    row = json.loads(rest_response.encode_predict_response(outputs, row_format=True))
    assert row == {"predictions": [{"labels": "red", "probabilities": [0.25, 0.333333343]}]}
    assert np.float32(row["predictions"][0]["probabilities"][1]) == np.float32(1 / 3)  # 9 digits: round-trips
    columnar = rest_response.encode_predict_response({"p": np.float32([1, np.inf])}, row_format=False)
    assert columnar == '{"outputs": [1.0, Infinity]}'
    with pytest.raises(ServingError, match="inconsistent batch size"):
        rest_response.encode_predict_response({"a": np.zeros(2), "b": np.zeros(3)}, row_format=True)


# Long integer arrays (raw frames) take the dense path: the same arrays, and the same errors, as the exact one.

FRAMES = np.random.default_rng(0).integers(0, 256, (2, 20, 20, 3)).astype(np.uint8)
STREAM = {"frames": tf.uint8, "state": tf.float32}


def both_paths(raw: bytes, input_dtypes):
    """(dense path result or error message, exact path result or error message) for one body."""
    results = []
    may_hold_booleans = b"true" in raw or b"false" in raw
    for parse in (rest_codec.parse_predict_body, rest_codec.parse_json):
        try:
            results.append(rest_codec.decode_predict_inputs(parse(raw), input_dtypes, may_hold_booleans))
        except ServingError as error:
            results.append(error.message)
    return results


def inputs(text: str) -> str:
    return '{"inputs": ' + text + "}"


def instances(text: str) -> str:
    return '{"instances": ' + text + "}"


def frames_text(frames=FRAMES, compact=True) -> str:
    return json.dumps(frames.tolist(), separators=(",", ":") if compact else None)


@pytest.mark.parametrize(
    "body, input_dtypes",
    [
        (instances(frames_text()), IMAGES),
        (instances(frames_text(compact=False)), IMAGES),
        (inputs(frames_text()), {"x": tf.float32}),
        ('{"inputs": {"frames": ' + frames_text() + ', "state": [[0.5, 1]], "other": 1}}', STREAM),
        (inputs(frames_text(FRAMES.astype(np.int64) * 10_000_000)), {"x": tf.int64}),
        (inputs(frames_text(FRAMES.astype(np.int64) - 128)), {"x": tf.int8}),
    ],
)
def test_dense_path_gives_the_exact_paths_arrays(body, input_dtypes):
    raw = body.encode("utf-8")
    assert isinstance(rest_codec.parse_predict_body(raw), rest_codec.LazyDocument)
    (dense, dense_format), (exact, exact_format) = both_paths(raw, input_dtypes)
    assert dense_format == exact_format and sorted(dense) == sorted(exact)
    for name in exact:
        assert dense[name].dtype == exact[name].dtype
        np.testing.assert_array_equal(dense[name], exact[name])


def replaced(old: str, new: str) -> str:
    text = frames_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "body, input_dtypes",
    [
        (inputs(replaced("]]]", "],[1]]]")), IMAGES),  # ragged
        (instances(replaced("[[[", "[[[[1],")), IMAGES),  # a leaf one level deeper
        (inputs(replaced(",", ",1.5,")), IMAGES),  # a float for an integer input
        (inputs(replaced(",", ",true,")), IMAGES),  # a boolean among numbers
        (inputs(replaced(",", ",4294967296,")), IMAGES),  # out of uint8's int32 range
        (inputs(replaced(",", ",-1,")), {"x": tf.uint32}),  # negative for unsigned
        (inputs(replaced(",", ",01,")), IMAGES),  # not JSON
        (inputs(replaced(",", ",,")), IMAGES),  # not JSON
        (inputs(replaced(",", ",1 2,")), IMAGES),  # not JSON
        ('{"inputs": ' + frames_text() + ', "instances": [1]}', IMAGES),
        (instances(frames_text()), STREAM),  # two inputs, a plain list
        ('{"inputs": {"frames": ' + frames_text() + "}}", STREAM),  # a named input missing
        ('{"inputs": "' + frames_text() + '"}', {"text": tf.string}),  # the array inside a string
        (inputs(frames_text()), {"x": tf.bool}),
    ],
)
def test_dense_path_falls_back_to_the_exact_paths_answer(body, input_dtypes):
    dense, exact = both_paths(body.encode("utf-8"), input_dtypes)
    if isinstance(exact, str):
        assert dense == exact
    else:
        for name in exact[0]:
            np.testing.assert_array_equal(dense[0][name], exact[0][name])
