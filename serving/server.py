"""The development model server: TF Serving's REST API over the SavedModels under an export root.

`make serve` starts this server when neither the `tensorflow_model_server` binary nor a Docker engine is
available (see `serving/serve.py`). It speaks the same REST API, with the same JSON formats, error
messages and HTTP status codes, as TF Serving (see `../shared/reference/tf-serving.md`):

    GET  /v1/models/<name>[/versions/<v> | /labels/<l>]             model status
    GET  /v1/models/<name>[/versions/<v> | /labels/<l>]/metadata    signature defs
    POST /v1/models/<name>[/versions/<v> | /labels/<l>]:predict     {"instances": ...} or {"inputs": ...}

Models are the sub-folders of the export root that hold at least one complete numeric version
(`<root>/<name>/<version>/saved_model.pb`); names in URLs are only looked up among them, never mapped to
paths. The highest version of each model is served. A background thread polls the export root every
`--poll-seconds`, loads a newly published version completely (including its warm-up requests) and then
swaps it in; requests already running finish on the version they started with. There are no version
labels (the labels URL answers `Unrecognized servable version label`, as TF Serving does for an unknown
label), no batching and no :classify / :regress (the exported models have predict signatures only).

Usage:
    python -m serving.server [--export-root export] [--host 127.0.0.1] [--port 8501]
"""

import argparse
import base64
import binascii
import dataclasses
import http.server
import json
import math
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
import zlib

import numpy as np

from pipelines import cli

cli.import_tensorflow_quietly()  # its start-up lines (oneDNN, CUDA probing) kept off the server's stderr

import tensorflow as tf  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_SIGNATURE_NAME = "serving_default"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")

# TF Serving's routing regexes (model_servers/http_rest_api_util.cc), matched against the whole path.
_POST_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE | re.ASCII,
)
_GET_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE | re.ASCII
)
_HANDLED_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VERSION_NAME = re.compile(r"[0-9]+")

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


def _type_name(dtype: tf.DType) -> str:
    return _TYPE_NAMES.get(dtype, dtype.name)


def _json_debug_string(value, limit: int = 256) -> str:
    """The offending JSON value as TF Serving prints it in error messages (truncated)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _json_type_name(value) -> str:
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
        f"JSON Value: {_json_debug_string(value)} Type: {_json_type_name(value)} "
        f"is not of expected type: {_type_name(dtype)}"
    )


# --------------------------------------------------------------------------------------------------
# Loaded models


@dataclasses.dataclass
class ServableVersion:
    """One loaded SavedModel version.

    Attributes:
        name: Model name (the folder under the export root).
        version: Version number (the numeric sub-folder).
        path: The SavedModel directory.
        signatures: Callable signatures (concrete functions) by signature key.
        input_dtypes: For each signature, the dtype of each input, by input name.
        metadata_json: The `signature_def` map as TF Serving's metadata API prints it.
    """

    name: str
    version: int
    path: str
    signatures: dict
    input_dtypes: dict[str, dict[str, tf.DType]]
    metadata_json: dict
    loaded: object = None

    @classmethod
    def load(cls, name: str, version: int, path: str) -> "ServableVersion":
        """Loads a SavedModel with `tf.saved_model.load` and replays its warm-up requests, if any."""
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as file:
            saved_model.ParseFromString(file.read())
        meta_graphs = [graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags]
        if not meta_graphs:
            raise ValueError(f"{path} has no MetaGraph tagged 'serve'; export it with keras' ExportArchive.")
        signature_defs = meta_graphs[0].signature_def
        loaded = tf.saved_model.load(path)
        signatures = dict(loaded.signatures)
        input_dtypes = {
            key: {input_name: tf.as_dtype(info.dtype) for input_name, info in signature_defs[key].inputs.items()}
            for key in signatures
            if key in signature_defs
        }
        metadata_json = {
            key: json_format.MessageToDict(
                signature_def, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
            )
            for key, signature_def in signature_defs.items()
        }
        servable = cls(name, version, path, signatures, input_dtypes, metadata_json, loaded)
        servable.warm_up()
        return servable

    def warm_up(self) -> None:
        """Replays `assets.extra/tf_serving_warmup_requests` like TF Serving does before serving a version."""
        if not os.path.exists(os.path.join(self.path, WARMUP_FILE)):
            return
        from serving import warmup  # Imported here: only needed for models that ship warm-up requests.

        for signature_name, inputs in warmup.read_warmup_requests(self.path):
            self.run(signature_name, inputs)

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Calls one signature; TensorFlow errors become `ServingError`s with TF Serving's codes."""
        function = self.signatures[signature_name]
        dtypes = self.input_dtypes[signature_name]
        try:
            tensors = {name: tf.convert_to_tensor(value, dtype=dtypes[name]) for name, value in inputs.items()}
            outputs = function(**tensors)
        except tf.errors.OpError as error:
            code = _ERROR_CODES.get(type(error).__name__, "UNKNOWN")
            raise ServingError(_clean_tensorflow_message(error.message), code) from None
        except (TypeError, ValueError) as error:
            raise ServingError(str(error).splitlines()[0]) from None
        return {name: np.asarray(tensor.numpy()) for name, tensor in outputs.items()}


def _clean_tensorflow_message(message: str) -> str:
    """Drops eager-mode decorations (graph execution preamble, `[Op:...]` suffix) that TF Serving lacks."""
    message = re.sub(r"^Graph execution error:\s*", "", message)
    message = re.sub(r"^Detected at node .*?\n<stack traces unavailable>\n", "", message, flags=re.DOTALL)
    return re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", message).strip()


_ERROR_CODES = {
    "CancelledError": "CANCELLED",
    "UnknownError": "UNKNOWN",
    "InvalidArgumentError": "INVALID_ARGUMENT",
    "DeadlineExceededError": "DEADLINE_EXCEEDED",
    "NotFoundError": "NOT_FOUND",
    "AlreadyExistsError": "ALREADY_EXISTS",
    "PermissionDeniedError": "PERMISSION_DENIED",
    "ResourceExhaustedError": "RESOURCE_EXHAUSTED",
    "FailedPreconditionError": "FAILED_PRECONDITION",
    "AbortedError": "ABORTED",
    "OutOfRangeError": "OUT_OF_RANGE",
    "UnimplementedError": "UNIMPLEMENTED",
    "InternalError": "INTERNAL",
    "UnavailableError": "UNAVAILABLE",
    "DataLossError": "DATA_LOSS",
    "UnauthenticatedError": "UNAUTHENTICATED",
}


def find_latest_versions(export_root: str) -> dict[str, tuple[int, str]]:
    """Lists the models under an export root with their highest complete version.

    A model is a sub-folder (name starting with a letter or digit) with at least one numeric sub-folder
    holding `saved_model.pb`; anything else (`.tmp-*` staging folders, files) is ignored.

    Returns:
        `{name: (version, path)}`.
    """
    latest = {}
    try:
        model_entries = list(os.scandir(export_root))
    except (FileNotFoundError, NotADirectoryError):
        return latest
    for model_entry in model_entries:
        if not _MODEL_NAME.fullmatch(model_entry.name) or not model_entry.is_dir():
            continue
        try:
            version_entries = list(os.scandir(model_entry.path))
        except OSError:
            continue
        for version_entry in version_entries:
            if not _VERSION_NAME.fullmatch(version_entry.name):
                continue
            if not os.path.isfile(os.path.join(version_entry.path, "saved_model.pb")):
                continue
            version = int(version_entry.name)
            if model_entry.name not in latest or version > latest[model_entry.name][0]:
                latest[model_entry.name] = (version, version_entry.path)
    return latest


class ModelRepository:
    """The latest version of every model under an export root, reloaded when a new version appears.

    Args:
        export_root: Folder with `<name>/<version>/` SavedModels.
        poll_seconds: How often the background thread looks for new versions.
        log: Callable that prints one line (loads, unloads, failures).
    """

    def __init__(self, export_root: str, poll_seconds: float = 1.0, log=None):
        self.export_root = export_root
        self.poll_seconds = poll_seconds
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._lock = threading.Lock()
        self._servables: dict[str, ServableVersion] = {}
        # Versions that failed to load, with the saved_model.pb mtime seen then: retried only if it changes.
        self._failed: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, name: str) -> ServableVersion | None:
        """The servable currently serving `name`, or None."""
        with self._lock:
            return self._servables.get(name)

    def servables(self) -> list[ServableVersion]:
        """All servables currently loaded, sorted by name."""
        with self._lock:
            return [self._servables[name] for name in sorted(self._servables)]

    def refresh(self) -> None:
        """Loads every model version that is newer (or older, if the newest was removed) than the served one."""
        latest = find_latest_versions(self.export_root)
        for name, (version, path) in sorted(latest.items()):
            current = self.get(name)
            if current is not None and current.version == version:
                continue
            try:
                modified = os.path.getmtime(os.path.join(path, "saved_model.pb"))
            except OSError:
                continue
            if self._failed.get((name, version)) == modified:
                continue
            started = time.monotonic()
            try:
                servable = ServableVersion.load(name, version, path)
            except Exception as error:  # A broken export must not take the server down: keep the old one.
                self._failed[(name, version)] = modified
                message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                self._log(f"Failed to load model '{name}' version {version} from {path}: {message}")
                continue
            with self._lock:
                self._servables[name] = servable
            self._log(f"Loaded model '{name}' version {version} in {time.monotonic() - started:.1f} s from {path}")
        with self._lock:
            removed = [name for name in self._servables if name not in latest]
            for name in removed:
                del self._servables[name]
        for name in removed:
            self._log(f"Unloaded model '{name}': no complete version left under {self.export_root}")

    def start(self) -> None:
        """Starts the polling thread."""
        self._thread = threading.Thread(target=self._poll, name="model-repository-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the polling thread (waits for a load in progress to finish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as error:  # Keep polling whatever happens on the filesystem.
                self._log(f"Polling {self.export_root} failed: {error}")


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
        raise ServingError(f"JSON Value: {_json_debug_string(document)} Is not object")
    return document


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
        raise ServingError(f"JSON Value: {_json_debug_string(value)} not formatted correctly for base64 data")
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
        f"Conversion of JSON Value: {_json_debug_string(value)} to type: {_type_name(dtype)}", "UNIMPLEMENTED"
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
                    f"JSON Value: {_json_debug_string(item)} found at incorrect level: {level + 1} "
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
    names = sorted(input_dtypes)
    if "instances" in document:
        if "inputs" in document:
            raise ServingError(
                f"JSON Value: {_json_debug_string(document)} Not formatted correctly expecting only one of "
                "'inputs' or 'instances' keys to exist "
            )
        instances = document["instances"]
        if not isinstance(instances, list):
            raise ServingError(f"JSON Value: {_json_debug_string(document)} Expecting 'instances' to be an list/array")
        if not instances:
            raise ServingError(f"JSON Value: {_json_debug_string(document)} No values in 'instances' array")
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
                f"Failed to process element: {index} of 'instances' list. JSON object: {_json_debug_string(item)} "
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


# --------------------------------------------------------------------------------------------------
# Tensors -> JSON (MakeJsonFromTensors)


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
    raise ServingError(f"Failed to write JSON value for tensor type: {_type_name(tf.as_dtype(array.dtype))}")


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


# --------------------------------------------------------------------------------------------------
# The REST API


class RestApi:
    """TF Serving's REST handler logic over a `ModelRepository`, independent of the HTTP transport."""

    def __init__(self, repository: ModelRepository):
        self.repository = repository

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """Answers one request under `/v1/`.

        Returns:
            The HTTP status and the JSON body.
        """
        try:
            text = self._route(method, path, body)
            return 200, text.encode("utf-8")
        except ServingError as error:
            return error.http_status, json.dumps({"error": error.message}, ensure_ascii=False).encode("utf-8")

    def _route(self, method: str, path: str, body: bytes) -> str:
        if method == "POST":
            match = _POST_PATH.fullmatch(path)
            if match and match.group(4) in ("predict", "classify", "regress"):
                name, version, label = self._model_spec(*match.group(1, 2, 3))
                return self._predict(name, version, label, body, match.group(4))
        elif method == "GET":
            match = _GET_PATH.fullmatch(path)
            if match:
                if match.group(1) is None:
                    raise ServingError("Missing model name in request.")
                name, version, label = self._model_spec(*match.group(1, 2, 3))
                if match.group(4) == "metadata":
                    return self._metadata(name, version, label)
                return self._status(name, version, label)
        raise ServingError(f"Malformed request: {method} {path}")

    @staticmethod
    def _model_spec(name: str, version: str | None, label: str | None) -> tuple[str, int | None, str | None]:
        name = urllib.parse.unquote(name)
        label = urllib.parse.unquote(label) if label is not None else None
        if version is not None:
            number = int(version)
            if number > 2**63 - 1:
                raise ServingError(f"Failed to convert version: {version} to numeric.")
            return name, number, label
        return name, None, label

    def _servable(self, name: str, version: int | None, label: str | None) -> ServableVersion:
        """The servable for a predict/metadata request (BasicManager's NOT_FOUND messages)."""
        if label is not None:
            raise ServingError(f"Unrecognized servable version label: {label}")
        servable = self.repository.get(name)
        if servable is None or (version is not None and version != servable.version):
            request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise ServingError(f"Servable not found for request: {request}", "NOT_FOUND")
        return servable

    def _status(self, name: str, version: int | None, label: str | None) -> str:
        if label is not None:
            raise ServingError(f"Unrecognized servable version label: {label}")
        servable = self.repository.get(name)
        if servable is None:
            raise ServingError(f"Could not find any versions of model {name}", "NOT_FOUND")
        if version is not None and version != servable.version:
            raise ServingError(f"Could not find version {version} of model {name}", "NOT_FOUND")
        status = {
            "version": str(servable.version),
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
        return json.dumps({"model_version_status": [status]}, indent=1)

    def _metadata(self, name: str, version: int | None, label: str | None) -> str:
        servable = self._servable(name, version, label)
        response = {
            "model_spec": {"name": name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": servable.metadata_json}},
        }
        return json.dumps(response, indent=1)

    def _predict(self, name: str, version: int | None, label: str | None, body: bytes, method: str) -> str:
        document = parse_json(body)
        signature_name = document.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise ServingError(
                f"JSON Value: {_json_debug_string(document)} not formatted correctly. "
                "'signature_name' key must be a string value."
            )
        servable = self._servable(name, version, label)
        key = signature_name or DEFAULT_SIGNATURE_NAME
        if key not in servable.signatures or key not in servable.input_dtypes:
            raise ServingError(f'Serving signature name: "{key}" not found in signature def')
        if method != "predict":
            expected = f"tensorflow/serving/{method}"
            actual = servable.metadata_json.get(key, {}).get("method_name", "")
            if actual != expected:
                raise ServingError(f"Expected {method} signature method_name to be {expected}. Was: {actual}")
            raise ServingError(f"The development server does not implement :{method}; use :predict.", "UNIMPLEMENTED")
        input_dtypes = servable.input_dtypes[key]
        if not input_dtypes:
            raise ServingError(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
        may_hold_booleans = b"true" in body or b"false" in body
        inputs, row_format = decode_predict_inputs(document, input_dtypes, may_hold_booleans)
        outputs = servable.run(key, inputs)
        return encode_predict_response(outputs, row_format)


# --------------------------------------------------------------------------------------------------
# HTTP transport


class RequestTooLarge(Exception):
    """The request body is over the server's limit."""


class DevelopmentServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that counts requests in flight so that shutdown can wait for them.

    Args:
        address: (host, port); port 0 picks a free port.
        api: The REST logic.
        max_request_bytes: Largest request body accepted (after gzip decompression).
        verbose: Log every request to stderr.
    """

    daemon_threads = True

    def __init__(self, address, api: RestApi, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES, verbose=False):
        super().__init__(address, DevelopmentRequestHandler)
        self.api = api
        self.max_request_bytes = max_request_bytes
        self.verbose = verbose
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()

    def request_started(self) -> None:
        with self._in_flight_changed:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._in_flight_changed:
            self._in_flight -= 1
            self._in_flight_changed.notify_all()

    def wait_for_requests(self, timeout: float) -> bool:
        """Waits until no request is in flight; False if some still are after `timeout` seconds."""
        with self._in_flight_changed:
            return self._in_flight_changed.wait_for(lambda: self._in_flight == 0, timeout=timeout)


class DevelopmentRequestHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive) handler that forwards `/v1/...` to the `RestApi`."""

    protocol_version = "HTTP/1.1"
    server_version = "DevelopmentModelServer/1"
    _NOT_FOUND_PAGE = b"<html><body><h1>404 Not Found</h1></body></html>"

    def do_GET(self):  # noqa: N802 (BaseHTTPRequestHandler's naming)
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self):  # noqa: N802
        self._handle("PATCH")

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        if self.server.verbose:
            super().log_message(format, *args)

    def _handle(self, method: str) -> None:
        self.server.request_started()
        try:
            path = urllib.parse.urlsplit(self.path).path
            try:
                body = self._read_body()
            except RequestTooLarge as error:
                self._send(413, json.dumps({"error": str(error)}).encode("utf-8"), "application/json")
                self._discard_body()
                return
            except ServingError as error:
                self.close_connection = True
                self._send(error.http_status, json.dumps({"error": error.message}).encode("utf-8"), "application/json")
                return
            if not _HANDLED_PATH.fullmatch(path):
                self._send(404, self._NOT_FOUND_PAGE, "text/html")
                return
            status, payload = self.server.api.handle(method, path, body)
            self._send(status, payload, "application/json")
        except Exception as error:  # Never drop a connection without an answer.
            message = json.dumps({"error": f"Internal error: {type(error).__name__}: {error}"}).encode("utf-8")
            try:
                self._send(500, message, "application/json")
            except OSError:
                pass
        finally:
            self.server.request_finished()

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _read_body(self) -> bytes:
        """Reads the body, refusing it before reading when its declared length is over the limit."""
        limit = self.server.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked(limit)
        else:
            length_header = self.headers.get("Content-Length")
            if not length_header:
                return b""
            try:
                length = int(length_header)
            except ValueError:
                raise ServingError(f"Invalid Content-Length: {length_header}") from None
            if length < 0:
                raise ServingError(f"Invalid Content-Length: {length_header}")
            if length > limit:
                self._declared_length = length
                self.close_connection = True
                raise RequestTooLarge(
                    f"Request body of {length} bytes is larger than the server's limit of {limit} bytes "
                    "(--max-request-bytes)."
                )
            body = self.rfile.read(length)
        if self.headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip"):
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                body = decompressor.decompress(body, limit + 1)
            except zlib.error as error:
                raise ServingError(f"Failed to decompress the gzip request body: {error}") from None
            if len(body) > limit:
                raise RequestTooLarge(
                    f"Decompressed request body is larger than the server's limit of {limit} bytes "
                    "(--max-request-bytes)."
                )
        return body

    def _read_chunked(self, limit: int) -> bytes:
        chunks = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise ServingError("Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                self.close_connection = True
                self._declared_length = 0
                raise RequestTooLarge(
                    f"Request body is larger than the server's limit of {limit} bytes (--max-request-bytes)."
                )
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _discard_body(self) -> None:
        """Reads and drops (part of) a refused body so that the client gets to read the answer.

        Closing a socket with unread data makes the kernel reset the connection, and the client may then
        never see the 413; up to 4x the limit is drained in small reads, never held in memory.
        """
        remaining = getattr(self, "_declared_length", 0)
        if remaining > 4 * self.server.max_request_bytes:
            return
        try:
            self.connection.settimeout(10)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass


def create_server(
    export_root: str = "export",
    host: str = "127.0.0.1",
    port: int = 8501,
    poll_seconds: float = 1.0,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    verbose: bool = False,
) -> tuple[DevelopmentServer, ModelRepository]:
    """Loads the models under `export_root` and binds the HTTP server (not yet serving, not yet polling).

    Returns:
        The server (call `serve_forever()`) and the repository (call `start()` to poll for new versions).
    """
    repository = ModelRepository(export_root, poll_seconds)
    repository.refresh()
    server = DevelopmentServer((host, port), RestApi(repository), max_request_bytes, verbose)
    return server, repository


def main(argv: list[str] | None = None) -> int:
    """Runs the development server until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m serving.server", description="TF-Serving-compatible REST development server."
    )
    parser.add_argument("--export-root", default="export", help="folder with <name>/<version>/ SavedModels")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=8501, help="REST port (0: pick a free one)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    parser.add_argument(
        "--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES, help="largest request body accepted"
    )
    parser.add_argument("--shutdown-grace-seconds", type=float, default=10.0, help="wait for requests in flight")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.poll_seconds <= 0:
        parser.error("--poll-seconds must be positive")
    if args.max_request_bytes <= 0:
        parser.error("--max-request-bytes must be positive")

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    try:
        server, repository = create_server(
            args.export_root, args.host, args.port, args.poll_seconds, args.max_request_bytes, args.verbose
        )
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    repository.start()
    host, port = server.server_address[:2]
    models = ", ".join(f"{servable.name} v{servable.version}" for servable in repository.servables()) or "none yet"
    print(
        f"Development model server on http://{host}:{port} serving {os.path.abspath(args.export_root)} "
        f"(models: {models}); Ctrl-C to stop",
        flush=True,
    )
    server_thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    server_thread.start()
    while not stop.wait(0.5):
        pass
    print("Shutting down: waiting for requests in flight", file=sys.stderr, flush=True)
    server.shutdown()
    server.wait_for_requests(args.shutdown_grace_seconds)
    server.server_close()
    repository.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
