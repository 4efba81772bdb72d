"""A small client for TF Serving's REST API (works with TF Serving and with `serving/rest/server.py`).

    client = Client("http://127.0.0.1:8501")
    client.status("image")                      # {"model_version_status": [{"version": "3", ...}]}
    outputs = client.predict("image", {"images": frames})   # {"probabilities": array, "labels": array}
    client.class_names("image")                 # ["cat", "dog", ...]

Arrays go out as JSON lists (`bytes` elements as `{"b64": ...}`, `str` as JSON strings) and come back as
NumPy arrays with the dtypes of the signature's outputs (from the model's metadata, fetched once per model,
version and signature): float32 probabilities, `str` labels, `bytes` for outputs whose name ends in
`_bytes` (TF Serving base64-encodes only those).

Class names over REST: every exported classifier has a signature named `classes` with one input `query`
(string [batch], ignored) and one output `classes` (string [batch, num_classes], the class list in the
order of the `probabilities` axis). So any REST client gets the class list with

    POST /v1/models/<name>:predict   {"signature_name": "classes", "instances": [""]}
    -> {"predictions": [["cat", "dog", ...]]}          # predictions[0] is the class list

which is what `Client.class_names` does.

Errors: a non-2xx answer raises `ModelServerError` carrying the server's `{"error": ...}` message and the
HTTP status. Connection failures (server not up yet, connection reset) are retried with exponential
backoff; HTTP errors and timeouts are not.
"""

import base64
import http.client
import json
import socket
import threading
import time
import urllib.parse

import numpy as np

from serving.rest import json_arrays

_NUMPY_TYPES = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_INT8": np.int8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_UINT16": np.uint16,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_BOOL": np.bool_,
}


class ModelServerError(Exception):
    """The server answered with an error.

    Attributes:
        status: HTTP status code (400 bad request, 404 unknown model or version, 501 unsupported dtype...).
        message: The server's error message (TF Serving's `{"error": ...}` text).
        url: The requested URL.
    """

    def __init__(self, status: int, message: str, url: str):
        super().__init__(f"HTTP {status} from {url}: {message}")
        self.status = status
        self.message = message
        self.url = url


def _to_json_value(array: np.ndarray):
    """A NumPy array as nested JSON lists; bytes become {"b64": ...}, str stays a JSON string."""
    array = np.asarray(array)
    if array.dtype.kind == "S" or (array.dtype.kind == "O" and array.size and isinstance(array.flat[0], bytes)):

        def encode(value):
            if isinstance(value, bytes):
                return {"b64": base64.b64encode(value).decode("ascii")}
            return str(value)

        if array.ndim == 0:
            return encode(array.item())
        flat = np.empty(array.size, dtype=object)
        flat[:] = [encode(value) for value in array.reshape(-1).tolist()]
        return flat.reshape(array.shape).tolist()
    if array.dtype.kind == "O":
        return [_to_json_value(np.asarray(value)) for value in array] if array.ndim else str(array.item())
    return array.tolist()


ENCODINGS = ("png", "jpeg", "raw")
# PNG is lossless whatever the settings; they trade size against speed. zlib level 1 with Huffman
# coding only, over Paeth-filtered rows: at 64x64, 0.14 ms to encode and 0.12 ms to decode a frame,
# 7.0 kB, against 0.26 ms, 0.14 ms and 7.4 kB for plain level 1 (``python -m bench rest``).
PNG_COMPRESSION = 1
JPEG_QUALITY = 95


def encode_images(pixels: np.ndarray, encoding: str = "png") -> np.ndarray:
    """RGB uint8 images (..., h, w, 3) → what a REST request sends for them.

    `png` (default: lossless, so the answers equal those of the pixels, through an `encoded` signature),
    `jpeg` (smaller, lossy) or `raw` (the pixels themselves, as JSON numbers).

    Returns:
        The pixels for `raw`; else an object array of encoded bytes shaped like `pixels.shape[:-3]`.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    pixels = np.asarray(pixels, np.uint8)
    if encoding == "raw":
        return pixels
    import cv2  # Imported here: only needed for encoded frames.

    if encoding == "png":
        extension, params = ".png", [
            cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION,
            cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
            cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH,
        ]  # fmt: skip
    else:
        extension, params = ".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    flat = pixels.reshape(-1, *pixels.shape[-3:])
    if flat.size:  # OpenCV takes BGR: one channel swap for the whole batch
        flat = cv2.cvtColor(flat.reshape(-1, *flat.shape[2:]), cv2.COLOR_RGB2BGR).reshape(flat.shape)
    encoded = np.empty(len(flat), dtype=object)
    encoded[:] = [cv2.imencode(extension, image, params)[1].tobytes() for image in flat]
    return encoded.reshape(pixels.shape[:-3])


class _JsonText(bytes):
    """JSON text already written (a dense integer array from `json_arrays`), put into the body as it is."""


def _to_json_fragment(array: np.ndarray):
    """`_to_json_value`, except that integer arrays become `_JsonText` (no Python int per element)."""
    text = json_arrays.dumps_int_array(array) if isinstance(array, np.ndarray) else None
    return _JsonText(text) if text is not None else _to_json_value(array)


def _dumps(body: dict) -> bytes:
    """Compact JSON of a request body whose `inputs` (or its values) may be `_JsonText`."""
    fragments = {}

    def placeholder(value):
        if not isinstance(value, _JsonText):
            return value
        key = f"\x00json-text-{len(fragments)}"
        fragments[json.dumps(key).encode("ascii")] = value
        return key

    inputs = body.get("inputs")
    if inputs is not None:
        inputs = {name: placeholder(value) for name, value in inputs.items()} if isinstance(inputs, dict) else inputs
        body = {**body, "inputs": placeholder(inputs)}
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    for key, text in fragments.items():
        data = data.replace(key, text, 1)
    return data


def _from_json_value(value, dtype_name: str | None, name: str) -> np.ndarray:
    """Turns one JSON output back into an array of the signature's dtype."""
    if dtype_name == "DT_STRING" or (dtype_name is None and name.endswith("_bytes")):
        if name.endswith("_bytes"):
            return np.asarray(_map_nested(value, lambda item: base64.b64decode(item["b64"])), dtype=object)
        return np.asarray(value, dtype=str)
    numpy_type = _NUMPY_TYPES.get(dtype_name)
    return np.asarray(value, dtype=numpy_type) if numpy_type else np.asarray(value)


def _map_nested(value, function):
    if isinstance(value, list):
        return [_map_nested(item, function) for item in value]
    return function(value)


class Client:
    """REST client for one TF Serving (or development) server.

    Args:
        base_url: e.g. `http://127.0.0.1:8501`.
        timeout: Seconds to wait for one answer.
        retries: How many times to retry a request that could not connect (0: no retry).
        backoff_seconds: Wait before the first retry; doubled after each.
    """

    def __init__(
        self, base_url: str = "http://127.0.0.1:8501", timeout: float = 30.0, retries: int = 3, backoff_seconds=0.5
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"Server URL must start with http:// or https://, got {base_url!r}.")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}.")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._output_types: dict[tuple, dict[str, str]] = {}
        self._local = threading.local()  # one kept-alive connection per thread

    def _model_url(self, name: str, version: int | None) -> str:
        url = f"{self.base_url}/v1/models/{urllib.parse.quote(name, safe='')}"
        return url if version is None else f"{url}/versions/{int(version)}"

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's kept-alive connection to the server, and whether it has been used before."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        parts = urllib.parse.urlsplit(self.base_url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._local.connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        return self._local.connection, False

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def _request(self, url: str, body: dict | None = None) -> dict:
        """One request over a kept-alive connection (a new connection and a new thread on the server
        for every request cost ~1 ms each). A kept connection the server has closed meanwhile
        (its idle timeout) is replaced at once; a server that cannot be reached is retried with backoff."""
        data = None if body is None else _dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        delay, attempt = self.backoff_seconds, 0
        while True:
            connection, reused = self._connection()
            try:
                if connection.sock is None:
                    connection.connect()
                    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see server.py
                connection.request("GET" if data is None else "POST", path, body=data, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except TimeoutError:
                self._drop_connection()
                raise
            except (ConnectionError, http.client.HTTPException, OSError) as error:
                self._drop_connection()
                if reused:
                    continue  # the server closed an idle kept connection: a fresh one, not a retry
                if attempt == self.retries:
                    raise ConnectionError(f"Cannot reach the model server at {url}: {error}") from None
                attempt += 1
                time.sleep(delay)
                delay *= 2
                continue
            if response.will_close:
                self._drop_connection()
            if response.status >= 400:
                text = payload.decode("utf-8", errors="replace")
                try:
                    message = json.loads(text)["error"]
                except (ValueError, KeyError, TypeError):
                    message = text.strip()[:500] or response.reason
                raise ModelServerError(response.status, message, url) from None
            return json.loads(payload)

    def status(self, name: str, version: int | None = None) -> dict:
        """GET /v1/models/<name>[/versions/<v>]: `{"model_version_status": [...]}`."""
        return self._request(self._model_url(name, version))

    def metadata(self, name: str, version: int | None = None) -> dict:
        """GET /v1/models/<name>[/versions/<v>]/metadata: the model spec and its signature defs."""
        return self._request(self._model_url(name, version) + "/metadata")

    def latest_version(self, name: str) -> int:
        """The version the server currently serves for `name` (the highest AVAILABLE one)."""
        statuses = self.status(name)["model_version_status"]
        return max(int(status["version"]) for status in statuses if status["state"] == "AVAILABLE")

    def _signature_outputs(self, name: str, version: int | None, signature_name: str) -> dict[str, str]:
        """Output dtype names (e.g. DT_FLOAT) of one signature, cached."""
        key = (name, version, signature_name)
        if key not in self._output_types:
            signature_defs = self.metadata(name, version)["metadata"]["signature_def"]["signature_def"]
            if signature_name not in signature_defs:
                raise ValueError(
                    f"Model {name!r} has no signature {signature_name!r}; it has {sorted(signature_defs)}."
                )
            outputs = signature_defs[signature_name]["outputs"]
            self._output_types[key] = {output: info["dtype"] for output, info in outputs.items()}
        return self._output_types[key]

    def predict(
        self,
        name: str,
        inputs: dict[str, np.ndarray] | np.ndarray,
        signature_name: str | None = None,
        version: int | None = None,
        columnar: bool = True,
    ) -> dict[str, np.ndarray]:
        """POST /v1/models/<name>[/versions/<v>]:predict.

        Args:
            name: Model name (`image`, `text`, `video`).
            inputs: Arrays by input name, or one array for a single-input signature. Batch dimension first.
            signature_name: Signature key; None means `serving_default`.
            version: A specific version; None means the latest.
            columnar: Send `{"inputs": ...}` (whole tensors, default) rather than `{"instances": [...]}` (one
                object per example, which needs every input to share the batch dimension).

        Returns:
            Every output as an array, by output name.

        Raises:
            ModelServerError: The server answered with an error (message and HTTP status attached).
            ConnectionError: The server could not be reached after the retries.
        """
        signature = signature_name or "serving_default"
        output_types = self._signature_outputs(name, version, signature)
        to_json = _to_json_fragment if columnar else _to_json_value
        if isinstance(inputs, dict):
            encoded = {input_name: to_json(value) for input_name, value in inputs.items()}
        else:
            encoded = to_json(inputs)
        body: dict = {} if signature_name is None else {"signature_name": signature_name}
        if columnar:
            body["inputs"] = encoded
        elif isinstance(encoded, dict):
            batch_sizes = {len(value) if isinstance(value, list) else None for value in encoded.values()}
            if len(batch_sizes) != 1 or None in batch_sizes:
                raise ValueError("Row format needs every input to have the same batch dimension; use columnar=True.")
            (batch_size,) = batch_sizes
            body["instances"] = [{key: value[index] for key, value in encoded.items()} for index in range(batch_size)]
        else:
            if not isinstance(encoded, list):
                raise ValueError("Row format needs a batch dimension; use columnar=True for scalars.")
            body["instances"] = encoded
        response = self._request(self._model_url(name, version) + ":predict", body)
        if columnar:
            outputs = response["outputs"]
            if not isinstance(outputs, dict) or len(output_types) == 1:
                outputs = {next(iter(output_types)): outputs}
        else:
            predictions = response["predictions"]
            if len(output_types) == 1:
                outputs = {next(iter(output_types)): predictions}
            else:
                outputs = {output: [item[output] for item in predictions] for output in output_types}
        return {output: _from_json_value(value, output_types.get(output), output) for output, value in outputs.items()}

    def class_names(self, name: str, version: int | None = None) -> list[str]:
        """The model's class names, in the order of its `probabilities` axis (the `classes` signature)."""
        url = self._model_url(name, version) + ":predict"
        response = self._request(url, {"signature_name": "classes", "instances": [""]})
        return [str(class_name) for class_name in response["predictions"][0]]
