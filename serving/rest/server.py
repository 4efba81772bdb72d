"""The development model server: TF Serving's REST API over the SavedModels under an export root.

`make serve` starts this server when neither the `tensorflow_model_server` binary nor a Docker engine is
available (see `serving/rest/serve.py`). It speaks the same REST API, with the same JSON formats, error
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

This module is the HTTP layer and the routing; the JSON codec is `serving/rest/rest_codec.py` and the loaded
models are `serving/rest/model_repository.py`.

Usage:
    python -m serving.rest.server [--export-root export] [--host 127.0.0.1] [--port 8501]
"""

import http.server
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
import zlib

from common import cli, quiet

quiet.import_tensorflow()  # its start-up lines (oneDNN, CUDA probing) kept off the server's stderr

from serving.rest.model_repository import ModelRepository  # noqa: E402
from serving.rest.rest_api import RestApi  # noqa: E402
from serving.rest.rest_codec import ServingError  # noqa: E402

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_READ_TIMEOUT_SECONDS = 30.0

_HANDLED_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)


# --------------------------------------------------------------------------------------------------
# HTTP transport


class RequestTooLarge(Exception):
    """The request body is over the server's limit."""


class RequestTimedOut(Exception):
    """The client stopped sending the request body."""


class DevelopmentServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server with a bounded number of connections, read timeouts and a graceful stop.

    Every connection has its own thread, holding one of `max_connections` slots until the connection
    closes; a connection over the limit is answered 503 and closed at once (the accept loop never waits).
    A connection that sends nothing for `read_timeout` seconds (idle keep-alive, half-sent headers) is
    closed, a stalled body gets 408, so that a slow or silent client gives its thread back.

    Args:
        address: (host, port); port 0 picks a free port.
        api: The REST logic.
        max_request_bytes: Largest request body accepted (after gzip decompression).
        verbose: Log every request to stderr.
        max_connections: Connections served at once.
        read_timeout: Seconds a connection may stay silent while the server waits for a request or its body.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address,
        api: RestApi,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        verbose=False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    ):
        super().__init__(address, DevelopmentRequestHandler)
        self.api = api
        self.max_request_bytes = max_request_bytes
        self.verbose = verbose
        self.max_connections = max_connections
        self.read_timeout = read_timeout
        self.stopping = False  # set when shutting down: answers then say Connection: close
        self._connection_slots = threading.BoundedSemaphore(max_connections)
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()

    def process_request(self, request, client_address) -> None:
        if not self._connection_slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started (e.g. out of threads): the slot and the socket go back
            self._connection_slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connection_slots.release()

    def _refuse(self, request) -> None:
        """Answers 503 on a connection over the limit, without reading from it, and closes it."""
        body = json.dumps(
            {"error": f"The server is at its limit of {self.max_connections} connections (--max-connections); retry."}
        ).encode("utf-8")
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            request.settimeout(1.0)
            request.sendall(head.encode("ascii") + body)
        except OSError:
            pass
        self.shutdown_request(request)

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
    # Headers and body go out in separate writes; on a kept-alive connection Nagle's algorithm would
    # hold the body back until the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server_version = "DevelopmentModelServer/1"
    _NOT_FOUND_PAGE = b"<html><body><h1>404 Not Found</h1></body></html>"

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # StreamRequestHandler applies it to the socket
        super().setup()

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
            except RequestTimedOut as error:
                self.close_connection = True
                self._send(408, json.dumps({"error": str(error)}).encode("utf-8"), "application/json")
                return
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
            if self.server.stopping:  # answered, and the client reconnects elsewhere (or finds us gone)
                self.close_connection = True
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
        """Reads the body, refusing it before reading when its declared length is over the limit.

        Raises:
            RequestTimedOut: If the client sent nothing for `read_timeout` seconds before the body was complete.
        """
        try:
            return self._read_whole_body()
        except TimeoutError:
            raise RequestTimedOut(
                f"Timed out after {self.server.read_timeout:g} s without data while reading the request body "
                "(--read-timeout-seconds)."
            ) from None

    def _read_whole_body(self) -> bytes:
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
            if len(body) < length:  # the client closed its side before sending all of it
                self.close_connection = True
                raise ServingError(f"Request body ended after {len(body)} of {length} bytes (Content-Length).")
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
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> tuple[DevelopmentServer, ModelRepository]:
    """Loads the models under `export_root` and binds the HTTP server (not yet serving, not yet polling).

    Returns:
        The server (call `serve_forever()`) and the repository (call `start()` to poll for new versions).
    """
    repository = ModelRepository(export_root, poll_seconds)
    repository.refresh()
    api = RestApi(repository)
    server = DevelopmentServer((host, port), api, max_request_bytes, verbose, max_connections, read_timeout)
    return server, repository


def main(argv: list[str] | None = None) -> int:
    """Runs the development server until SIGTERM or SIGINT."""
    parser = cli.ArgumentParser(
        prog="python -m serving.rest.server", description="TF-Serving-compatible REST development server."
    )
    parser.add_argument("--export-root", default="export", help="folder with <name>/<version>/ SavedModels")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=8501, help="REST port (0: pick a free one)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    parser.add_argument(
        "--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES, help="largest request body accepted"
    )
    parser.add_argument(
        "--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS, help="connections served at once (more: 503)"
    )
    parser.add_argument(
        "--read-timeout-seconds",
        type=float,
        default=DEFAULT_READ_TIMEOUT_SECONDS,
        help="close a connection silent this long (idle or mid-headers); 408 for a stalled body",
    )
    parser.add_argument("--shutdown-grace-seconds", type=float, default=10.0, help="wait for requests in flight")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    for name in ("poll_seconds", "max_request_bytes", "max_connections", "read_timeout_seconds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")

    # The handler only records the signal: no lock may be taken in a signal handler (a second signal
    # arriving while the first handler holds one, e.g. inside Event.set, deadlocks the main thread).
    signals_received = []
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda number, _frame: signals_received.append(number))
    try:
        server, repository = create_server(
            args.export_root,
            args.host,
            args.port,
            args.poll_seconds,
            args.max_request_bytes,
            args.verbose,
            args.max_connections,
            args.read_timeout_seconds,
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
    while not signals_received:
        time.sleep(0.2)
    print("Shutting down: waiting for requests in flight", file=sys.stderr, flush=True)
    server.stopping = True
    server.shutdown()
    server.server_close()  # new connections are refused from here on
    server.wait_for_requests(args.shutdown_grace_seconds)
    repository.stop(timeout=5)
    return 0


def exit_without_teardown(code: int) -> None:
    """Flushes stdout/stderr and ends the process at once: TensorFlow's teardown adds seconds to a stop."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(cli.run(main))
