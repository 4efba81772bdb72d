"""TF Serving's REST JSON responses: output tensors to the `predictions` / `outputs` body.

Follows tensorflow_serving/util/json_tensor.cc (MakeJsonFromTensors), number formatting included; the
request side is `serving/rest/rest_codec.py`.
"""

import base64
import json
import math

import numpy as np
import tensorflow as tf

from serving.rest.rest_codec import ServingError, type_name


def _float_tokens(values: np.ndarray) -> list[str]:
    """TF Serving's WriteDecimal: 6 significant digits when that round-trips, else full precision."""
    numbers = values.astype(np.float64).tolist()
    tokens = [f"{number:g}" for number in numbers]
    parsed = np.array(tokens, dtype=np.float64).astype(values.dtype)
    finite = np.isfinite(values)
    full_precision = "%.9g" if values.dtype == np.float32 else "%.17g"
    for index in np.flatnonzero((parsed != values) & finite).tolist():
        tokens[index] = full_precision % numbers[index]
    for index, token in enumerate(tokens):
        if not finite[index]:
            number = numbers[index]
            tokens[index] = "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
        elif "." not in token and "e" not in token:
            tokens[index] = token + ".0"
    return tokens


def _value_tokens(name: str, array: np.ndarray) -> list[str]:
    """Flat JSON tokens for every element of one output."""
    flat = array.reshape(-1)
    kind = array.dtype.kind
    if kind == "f" and array.dtype in (np.float32, np.float64):
        return _float_tokens(flat)
    if kind in "iu":
        return [str(number) for number in flat.tolist()]
    if kind == "b":
        return ["true" if value else "false" for value in flat.tolist()]
    if kind in "OSU":
        if name.endswith("_bytes"):
            return ['{"b64": "' + base64.b64encode(bytes(value)).decode("ascii") + '"}' for value in flat.tolist()]
        return [
            json.dumps(value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value))
            for value in flat.tolist()
        ]
    raise ServingError(f"Failed to write JSON value for tensor type: {type_name(tf.as_dtype(array.dtype))}")


def _nest(tokens: list[str], shape: tuple[int, ...], levels: int) -> list[str]:
    """Joins flat tokens into nested JSON lists, keeping the first `len(shape) - levels` dims unjoined."""
    rows = tokens
    for axis in range(len(shape) - 1, len(shape) - 1 - levels, -1):
        size = shape[axis]
        groups = math.prod(shape[:axis])
        if size == 0:
            rows = ["[]"] * groups
        else:
            rows = ["[" + ", ".join(rows[start : start + size]) + "]" for start in range(0, len(rows), size)]
    return rows


def encode_predict_response(outputs: dict[str, np.ndarray], row_format: bool) -> str:
    """The JSON body of a predict response: `predictions` (row requests) or `outputs` (columnar)."""
    if not outputs:
        raise ServingError("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    if not row_format:
        encoded = {
            name: _nest(_value_tokens(name, outputs[name]), outputs[name].shape, outputs[name].ndim)[0]
            for name in names
        }
        if len(names) == 1:
            return '{"outputs": ' + encoded[names[0]] + "}"
        return '{"outputs": {' + ", ".join(json.dumps(name) + ": " + encoded[name] for name in names) + "}}"
    batch_size = None
    for name in names:
        array = outputs[name]
        if array.ndim == 0:
            raise ServingError(f"Tensor name: {name} has no shape information ")
        if batch_size is None:
            batch_size = array.shape[0]
        elif array.shape[0] != batch_size:
            raise ServingError(
                f"Tensor name: {name} has inconsistent batch size: {array.shape[0]} expecting: {batch_size}"
            )
    rows = {
        name: _nest(_value_tokens(name, outputs[name]), outputs[name].shape, outputs[name].ndim - 1) for name in names
    }
    if len(names) == 1:
        items = rows[names[0]]
    else:
        keys = {name: json.dumps(name) + ": " for name in names}
        items = ["{" + ", ".join(keys[name] + rows[name][index] for name in names) + "}" for index in range(batch_size)]
    return '{"predictions": [' + ", ".join(items) + "]}"
