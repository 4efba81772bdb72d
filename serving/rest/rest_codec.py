"""TF Serving's REST JSON codec, request side: request bodies to arrays, and `ServingError`.

Follows tensorflow_serving/util/json_tensor.cc (FillPredictRequestFromJson) with its exact error messages
(see `../shared/reference/tf-serving.md`); the response side is `serving/rest/rest_response.py`. No HTTP and
no model code here, so the development server's HTTP layer (`serving/rest/server.py`) and tests use it directly.
Long integer arrays (raw frames) are decoded by `serving/rest/json_arrays.py` without a Python int per element.
"""

import base64
import binascii
import json
import os

import numpy as np
import tensorflow as tf

from serving.rest import json_arrays

# TF Serving's mapping of canonical error codes to HTTP (model_servers/http_server.cc, ToHTTPStatusCode).
HTTP_STATUS = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}

# TensorFlow's DataTypeString() names, used in TF Serving's error messages.
_TYPE_NAMES = {tf.float32: "float", tf.float64: "double", tf.float16: "half"}

# Range checks of rapidjson's IsInt / IsInt64 / IsUint / IsUint64, which TF Serving applies per dtype.
_INT32_RANGE = (-(2**31), 2**31 - 1)
_INTEGER_RANGES = {
    tf.int8: _INT32_RANGE,
    tf.int16: _INT32_RANGE,
    tf.int32: _INT32_RANGE,
    tf.uint8: _INT32_RANGE,
    tf.int64: (-(2**63), 2**63 - 1),
    tf.uint32: (0, 2**32 - 1),
    tf.uint64: (0, 2**64 - 1),
}
_FLOAT_TYPES = (tf.float32, tf.float64)


class ServingError(Exception):
    """An error answered as `{"error": message}` with the HTTP status of its canonical code."""

    def __init__(self, message: str, code: str = "INVALID_ARGUMENT", http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status or HTTP_STATUS.get(code, 500)


def type_name(dtype: tf.DType) -> str:
    return _TYPE_NAMES.get(dtype, dtype.name)


def json_debug_string(value, limit: int = 256) -> str:
    """The offending JSON value as TF Serving prints it in error messages (truncated)."""
    if isinstance(value, LazyDocument):
        value = parse_json(value.body)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _jsontype_name(value) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _type_error(value, dtype: tf.DType) -> ServingError:
    return ServingError(
        f"JSON Value: {json_debug_string(value)} Type: {_jsontype_name(value)} "
        f"is not of expected type: {type_name(dtype)}"
    )


# --------------------------------------------------------------------------------------------------
# JSON -> tensors (tensorflow_serving/util/json_tensor.cc)


def parse_json(body: bytes):
    """Parses a request body like rapidjson in TF Serving (NaN/Infinity allowed, trailing bytes ignored)."""
    text = body.decode("utf-8", errors="surrogateescape").lstrip(" \t\r\n")
    if not text:
        raise ServingError("JSON Parse error: The document is empty")
    try:
        document, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as error:
        reason = _PARSE_ERRORS.get(error.msg, "Invalid value.")
        raise ServingError(f"JSON Parse error: {reason} at offset: {error.pos}") from None
    except RecursionError:
        raise ServingError("JSON Parse error: Nesting too deep.") from None
    if not isinstance(document, dict):
        raise ServingError(f"JSON Value: {json_debug_string(document)} Is not object")
    return document


class LazyDocument(dict):
    """A parsed request whose long integer arrays are still text: placeholder strings, keys of `texts`.

    Attributes:
        body: The request body, for the exact path (and error messages) when the dense one does not apply.
        texts: The JSON text of each array, by its placeholder.
    """

    def __init__(self, document: dict, body: bytes, texts: dict[str, bytes]):
        super().__init__(document)
        self.body = body
        self.texts = texts


_PLACEHOLDER = "\x00dense-array-" + os.urandom(8).hex() + "-"
_MIN_LAZY_BODY = 4096


def parse_predict_body(body: bytes):
    """`parse_json`, leaving long arrays of integers as text (a `LazyDocument`) for `decode_predict_inputs`.

    Building one Python int per element is most of the cost of a body with raw frames; the arrays are
    parsed by `json_arrays.loads_int_array` instead, and anything unusual goes back to `parse_json(body)`.
    """
    spans = json_arrays.find_array_spans(body) if len(body) >= _MIN_LAZY_BODY else []
    if not spans:
        return parse_json(body)
    pieces, texts, position = [], {}, 0
    for index, (start, end) in enumerate(spans):
        key = f"{_PLACEHOLDER}{index}"
        pieces += [body[position:start], json.dumps(key).encode("ascii")]
        texts[key] = body[start:end]
        position = end
    pieces.append(body[position:])
    try:  # a span inside a string makes the document invalid: then parse the body as it is
        document = parse_json(b"".join(pieces))
    except ServingError:
        return parse_json(body)
    return LazyDocument(document, body, texts)


def _dense_input(document: LazyDocument, value, dtype: tf.DType, may_hold_booleans: bool) -> np.ndarray | None:
    """One input of a `LazyDocument`: its array when the dense path applies, else None."""
    if not (isinstance(value, str) and value in document.texts):
        return _fast_array(value, dtype, may_hold_booleans)  # None for anything holding a placeholder
    values = json_arrays.loads_int_array(document.texts[value])
    if values is None:
        return None
    if dtype in _FLOAT_TYPES:
        return values.astype(dtype.as_numpy_dtype)
    if dtype in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[dtype]
        if int(values.min()) < low or int(values.max()) > high:
            return None
        return values.astype(dtype.as_numpy_dtype)
    return None


def _decode_dense(document: LazyDocument, input_dtypes, may_hold_booleans) -> tuple[dict, bool] | None:
    """`decode_predict_inputs` for the well-formed cases of a `LazyDocument`; None: take the exact path."""
    names = sorted(input_dtypes)
    if ("instances" in document) == ("inputs" in document):
        return None
    row_format = "instances" in document
    value = document["instances" if row_format else "inputs"]
    if isinstance(value, dict) and not row_format and not _is_base64_object(value):
        if any(name not in value for name in names):
            return None
        values = {name: value[name] for name in names}
    elif len(names) == 1 and isinstance(value, str):
        values = {names[0]: value}
    else:
        return None
    arrays = {}
    for name, item in values.items():
        array = _dense_input(document, item, input_dtypes[name], may_hold_booleans)
        if array is None or (row_format and array.ndim == 0):
            return None
        arrays[name] = array
    return arrays, row_format


# Python's json messages mapped to rapidjson's GetParseError_En texts.
_PARSE_ERRORS = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Expecting ',' delimiter": "Missing a comma or ']' after an array element.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid control character at": "Invalid encoding in string.",
    "Invalid \\escape": "Invalid escape character in string.",
    "Invalid \\uXXXX escape": "Incorrect hex digit after \\u escape in string.",
}


def _is_base64_object(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _decode_base64(value) -> bytes:
    if not _is_base64_object(value):
        raise ServingError(f"JSON Value: {json_debug_string(value)} not formatted correctly for base64 data")
    text = value["b64"]
    try:
        return base64.b64decode(text.encode("ascii") + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ServingError("Unable to base64 decode") from None


def _convert_scalar(value, dtype: tf.DType):
    """One JSON leaf converted to `dtype` with TF Serving's rules (AddValueToTensor)."""
    if isinstance(value, dict):
        if dtype == tf.string:
            return _decode_base64(value)
        raise _type_error(value, dtype)
    if dtype == tf.string:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8", errors="surrogateescape")
    if dtype in _FLOAT_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, dtype)
        return value
    if dtype in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[dtype]
        if type(value) is not int or not low <= value <= high:
            raise _type_error(value, dtype)
        return value
    if dtype == tf.bool:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    raise ServingError(
        f"Conversion of JSON Value: {json_debug_string(value)} to type: {type_name(dtype)}", "UNIMPLEMENTED"
    )


def _to_numpy(values: list, shape: list[int], dtype: tf.DType) -> np.ndarray:
    if dtype == tf.string:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    if dtype in _INTEGER_RANGES and dtype != tf.int64 and dtype != tf.uint64:
        # int_val holds int32; TensorFlow then truncates to the narrower type, like this cast.
        return np.asarray(values, dtype=np.int64).astype(dtype.as_numpy_dtype).reshape(shape)
    return np.asarray(values, dtype=dtype.as_numpy_dtype).reshape(shape)


def json_to_array(value, dtype: tf.DType) -> np.ndarray:
    """Converts one JSON value to an array exactly like TF Serving (GetDenseTensorShape + FillTensorProto).

    The shape follows the first element at each nesting level; every other list must match it. This is the
    exact (element by element) path; `_fast_array` handles the common well-formed numeric case.
    """
    shape = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    rank = len(shape)
    values = []

    def fill(item, level: int) -> None:
        if not isinstance(item, list):
            if level != rank:
                raise ServingError(
                    f"JSON Value: {json_debug_string(item)} found at incorrect level: {level + 1} "
                    f"in the JSON DOM. Expected at level: {rank}"
                )
            values.append(_convert_scalar(item, dtype))
            return
        if level >= rank:
            raise ServingError(f"Encountered list at unexpected level: {level} expected < {rank}")
        if len(item) != shape[level]:
            raise ServingError(
                f"Encountered list at unexpected size: {len(item)} at level: {level} expected size: {shape[level]}"
            )
        for element in item:
            fill(element, level + 1)

    fill(value, 0)
    return _to_numpy(values, shape, dtype)


def _fast_array(value, dtype: tf.DType, may_hold_booleans: bool) -> np.ndarray | None:
    """Vectorized conversion of a well-formed numeric JSON value, or None to take the exact path.

    `np.asarray` on nested lists is much faster than walking them, but it also accepts what TF Serving
    rejects (ragged lists become errors or objects, floats for integer inputs, booleans mixed with numbers);
    every such case returns None so that `json_to_array` produces TF Serving's result or error.
    """
    if dtype == tf.string or (may_hold_booleans and dtype != tf.bool):
        return None
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError, TypeError):
        return None
    kind = array.dtype.kind
    if dtype in _FLOAT_TYPES:
        return array.astype(dtype.as_numpy_dtype) if kind in "iuf" else None
    if dtype in _INTEGER_RANGES:
        if kind not in "iu":
            return None
        if array.size:
            low, high = _INTEGER_RANGES[dtype]
            if int(array.min()) < low or int(array.max()) > high:
                return None
        return array.astype(dtype.as_numpy_dtype)
    if dtype == tf.bool:
        return array if kind == "b" else None
    return None


def _array_from_json(value, dtype: tf.DType, may_hold_booleans: bool) -> np.ndarray:
    array = _fast_array(value, dtype, may_hold_booleans)
    return array if array is not None else json_to_array(value, dtype)


def _shape_string(shape) -> str:
    return "[" + ",".join(str(size) for size in shape) + "]"


def _is_element_object(value) -> bool:
    return isinstance(value, dict) and not _is_base64_object(value)


def _stack_instances(items: list, dtype: tf.DType, may_hold_booleans: bool, describe) -> np.ndarray:
    """Stacks the per-instance values of one input into a batch, with TF Serving's per-element checks.

    Args:
        items: One JSON value per instance.
        dtype: The input's dtype.
        may_hold_booleans: Whether the request body contains `true`/`false` tokens.
        describe: Maps an instance index to the error prefix ("Failed to process element: i ...").
    """
    array = _fast_array(items, dtype, may_hold_booleans)
    if array is not None and array.ndim >= 1:
        return array
    arrays = []
    for index, item in enumerate(items):
        try:
            element = json_to_array(item, dtype)
            if arrays:
                first = arrays[0]
                if element.size != first.size:
                    raise ServingError(f"Expecting tensor size: {first.size} but got: {element.size}")
                if element.shape != first.shape:
                    raise ServingError(
                        f"Expecting shape {_shape_string(first.shape)} but got: {_shape_string(element.shape)}"
                    )
        except ServingError as error:
            raise ServingError(f"{describe(index)} Error: {error.code}: {error.message}") from None
        arrays.append(element)
    return np.stack(arrays)


def decode_predict_inputs(
    document: dict, input_dtypes: dict[str, tf.DType], may_hold_booleans: bool = True
) -> tuple[dict[str, np.ndarray], bool]:
    """Turns a predict request's `instances` or `inputs` into arrays (FillPredictRequestFromJson).

    Args:
        document: The parsed request body.
        input_dtypes: The signature's input dtypes by input name (the JSON never decides a dtype).
        may_hold_booleans: False when the body has no `true`/`false` token, enabling the fast path for
            numbers (numpy would silently turn booleans into numbers).

    Returns:
        The inputs by name, and whether the request used the row (`instances`) format.
    """
    if isinstance(document, LazyDocument):
        decoded = _decode_dense(document, input_dtypes, may_hold_booleans)
        if decoded is not None:
            return decoded
        document = parse_json(document.body)
    names = sorted(input_dtypes)
    if "instances" in document:
        if "inputs" in document:
            raise ServingError(
                f"JSON Value: {json_debug_string(document)} Not formatted correctly expecting only one of "
                "'inputs' or 'instances' keys to exist "
            )
        instances = document["instances"]
        if not isinstance(instances, list):
            raise ServingError(f"JSON Value: {json_debug_string(document)} Expecting 'instances' to be an list/array")
        if not instances:
            raise ServingError(f"JSON Value: {json_debug_string(document)} No values in 'instances' array")
        return _decode_instances(instances, input_dtypes, names, may_hold_booleans), True
    if "inputs" in document:
        return _decode_columnar(document["inputs"], input_dtypes, names, may_hold_booleans), False
    raise ServingError("Missing 'inputs' or 'instances' key")


def _decode_instances(instances: list, input_dtypes, names, may_hold_booleans) -> dict[str, np.ndarray]:
    if not isinstance(instances[0], dict) and len(names) > 1:
        raise ServingError(
            "instances is a plain list, but expecting list of objects as multiple input tensors required "
            "as per tensorinfo_map"
        )
    if not _is_element_object(instances[0]):
        for index, item in enumerate(instances):
            if _is_element_object(item):
                raise ServingError(f"Expecting value/list but got object at item {index} of input list")
        name = names[0]
        return {
            name: _stack_instances(
                instances,
                input_dtypes[name],
                may_hold_booleans,
                lambda index: f"Failed to process element: {index} of 'instances' list.",
            )
        }
    expected_keys = set(names)
    for index, item in enumerate(instances):
        if not _is_element_object(item):
            raise ServingError(f"Expecting object but got list at item {index} of input list")
        for key in item:
            if key not in input_dtypes:
                raise ServingError(
                    f"Failed to process element: {index} key: {key} of 'instances' list. Error: INVALID_ARGUMENT: "
                    f"JSON object: does not have named input: {key}"
                )
        if set(item) != expected_keys:
            raise ServingError(
                f"Failed to process element: {index} of 'instances' list. JSON object: {json_debug_string(item)} "
                f"keys must be equal to: {','.join(names)}"
            )
    return {
        name: _stack_instances(
            [item[name] for item in instances],
            input_dtypes[name],
            may_hold_booleans,
            lambda index, name=name: f"Failed to process element: {index} key: {name} of 'instances' list.",
        )
        for name in names
    }


def _decode_columnar(inputs, input_dtypes, names, may_hold_booleans) -> dict[str, np.ndarray]:
    if not isinstance(inputs, dict) or _is_base64_object(inputs):
        if len(names) > 1:
            raise ServingError(
                "inputs is a plain value/list, but expecting an object as multiple input tensors required "
                "as per tensorinfo_map"
            )
        return {names[0]: _array_from_json(inputs, input_dtypes[names[0]], may_hold_booleans)}
    arrays = {}
    for name in names:
        if name not in inputs:
            raise ServingError(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = _array_from_json(inputs[name], input_dtypes[name], may_hold_booleans)
    return arrays
