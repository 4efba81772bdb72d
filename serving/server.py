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

This module is the HTTP layer and the routing; the JSON codec is `serving/rest_codec.py` and the loaded
models are `serving/model_repository.py`.

Usage:
    python -m serving.server [--export-root export] [--host 127.0.0.1] [--port 8501]
"""

import argparse
import http.server
import json
import os
import re
import signal
import sys
import threading
import urllib.parse
import zlib

from pipelines import cli

cli.import_tensorflow_quietly()  # its start-up lines (oneDNN, CUDA probing) kept off the server's stderr

from serving import rest_codec  # noqa: E402
from serving.model_repository import ModelRepository, ServableVersion  # noqa: E402
from serving.rest_codec import ServingError  # noqa: E402

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_SIGNATURE_NAME = "serving_default"

# TF Serving's routing regexes (model_servers/http_rest_api_util.cc), matched against the whole path.
_POST_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE | re.ASCII,
)
_GET_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE | re.ASCII
)
_HANDLED_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)


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
        document = rest_codec.parse_json(body)
        signature_name = document.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise ServingError(
                f"JSON Value: {rest_codec.json_debug_string(document)} not formatted correctly. "
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
        inputs, row_format = rest_codec.decode_predict_inputs(document, input_dtypes, may_hold_booleans)
        outputs = servable.run(key, inputs)
        return rest_codec.encode_predict_response(outputs, row_format)


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
