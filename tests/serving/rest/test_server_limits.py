"""The development server under hostile conditions: silent and slow clients, too many connections, and
repeated SIGTERM/SIGINT to the process group of `make serve`, after traffic and during it."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tests.helpers import PROJECT_ROOT

BODY = json.dumps({"instances": np.zeros((1, 2, 2, 3), np.uint8).tolist()}).encode("utf-8")


def predict(host: str, port: int, timeout: float = 10) -> int:
    """One predict request on a fresh connection; returns the HTTP status."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/v1/models/image:predict", BODY, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def proc_status(pid: int) -> dict[str, int]:
    """Threads and resident memory (kB) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as file:
        fields = dict(line.split(":", 1) for line in file)
    return {"threads": int(fields["Threads"]), "rss_kb": int(fields["VmRSS"].split()[0])}


def read_until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


@pytest.fixture
def image_root(export_root, tmp_path):
    root = tmp_path / "export"
    shutil.copytree(export_root / "image", root / "image")
    return root


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads threads and memory from /proc")
def test_idle_and_half_sent_connections_neither_pin_threads_nor_block_requests(image_root, dev_server):
    server = dev_server(image_root, "--read-timeout-seconds", "1", "--max-connections", "40")
    process, url = server.process, server.url
    host, port = url.removeprefix("http://").split(":")
    port = int(port)
    opened = []
    try:
        assert predict(host, port) == 200
        baseline = proc_status(process.pid)
        idle = [socket.create_connection((host, port)) for _ in range(12)]
        half_headers = [socket.create_connection((host, port)) for _ in range(12)]
        half_bodies = [socket.create_connection((host, port)) for _ in range(6)]
        opened = idle + half_headers + half_bodies
        for connection in half_headers:
            connection.sendall(b"POST /v1/models/image:predict HTTP/1.1\r\nHost: x\r\nContent-Le")
        for connection in half_bodies:
            connection.sendall(b"POST /v1/models/image:predict HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + BODY[:10])
        started = time.monotonic()
        assert [predict(host, port) for _ in range(3)] == [200, 200, 200]
        assert time.monotonic() - started < 1.0  # answered while the 30 slow connections are still open

        # Over the limit: answered 503 at once (or closed), never a crash.
        extra = [socket.create_connection((host, port), timeout=5) for _ in range(15)]
        opened += extra
        answers = [read_until_closed(connection) for connection in extra[-5:]]
        assert all(answer.startswith(b"HTTP/1.1 503") for answer in answers)
        assert b"--max-connections" in answers[-1]

        # Within the 1 s read timeout (plus slack), every slow connection is answered or closed.
        for connection in idle + half_headers + half_bodies:
            connection.settimeout(5)
        assert all(read_until_closed(connection) == b"" for connection in idle + half_headers)
        timed_out = [read_until_closed(connection) for connection in half_bodies]
        assert all(answer.startswith(b"HTTP/1.1 408") for answer in timed_out)
        assert b"--read-timeout-seconds" in timed_out[0]
        assert time.monotonic() - started < 6
        for connection in opened:
            connection.close()

        # The threads come back, memory did not grow with the connections, and requests are answered.
        deadline = time.monotonic() + 10
        while proc_status(process.pid)["threads"] > baseline["threads"] and time.monotonic() < deadline:
            time.sleep(0.1)
        after = proc_status(process.pid)
        assert after["threads"] <= baseline["threads"]
        assert after["rss_kb"] - baseline["rss_kb"] < 20_000
        assert predict(host, port) == 200

        # A body shorter than its Content-Length, then the client's end closed: 400, not a pinned thread.
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(b"POST /v1/models/image:predict HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + BODY[:10])
            connection.shutdown(socket.SHUT_WR)
            answer = read_until_closed(connection)
        assert answer.startswith(b"HTTP/1.1 400")
        assert b"Request body ended after 10 of 1000 bytes" in answer
    finally:
        for connection in opened:
            connection.close()
        server.stop()


def start_make_serve(export_root) -> tuple[subprocess.Popen, str, int]:
    """`make serve` (dev server, free port) in a process group of its own; returns it, host and port."""
    command = [
        "make", "-s", "--no-print-directory", "serve", "STAMP=", f"PY={sys.executable}", "PORT=0",
        f"ARGS=--dev --export-root {export_root}",
    ]  # fmt: skip
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"Development model server on http://([\d.]+):(\d+)", line)
        if match:
            return process, match.group(1), int(match.group(2))
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"make serve did not start (exit code {process.poll()})")


def signal_group_repeatedly(process: subprocess.Popen) -> float:
    """SIGTERM and SIGINT alternately to the group, 12 of them 0 to 20 ms apart (a second signal arriving
    while the handler of the first runs is what deadlocked a handler that took a lock); returns seconds
    until the whole group is gone."""
    started = time.monotonic()
    for index, gap in enumerate((0.0, 0.0002, 0.001, 0.005, 0.02, 0.0) * 2):
        try:
            os.killpg(process.pid, signal.SIGTERM if index % 2 == 0 else signal.SIGINT)
        except ProcessLookupError:
            break
        time.sleep(gap)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail("make serve was still running 15 s after the signals")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the server itself (make may exit first)
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return time.monotonic() - started
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail("the server was still running 15 s after the signals")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_repeated_signals_to_make_serve_after_traffic_stop_it(image_root):
    process, host, port = start_make_serve(image_root)
    kept_alive = http.client.HTTPConnection(host, port, timeout=10)  # a client that keeps its connection
    for _ in range(20):
        kept_alive.request("POST", "/v1/models/image:predict", BODY, {"Content-Type": "application/json"})
        response = kept_alive.getresponse()
        assert response.status == 200
        response.read()
    assert signal_group_repeatedly(process) < 5
    kept_alive.close()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_repeated_signals_to_make_serve_during_traffic_stop_it_cleanly(image_root):
    process, host, port = start_make_serve(image_root)
    outcomes, stop = [], threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                outcomes.append(predict(host, port, timeout=10))
            except OSError as error:  # refused or reset once the server is stopping
                outcomes.append(type(error).__name__)
                time.sleep(0.01)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    try:
        assert signal_group_repeatedly(process) < 5
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
    answered = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert len(answered) >= 5 and set(answered) == {200}  # no 500, no half answer: 200 or refused
    refused = set(outcomes) - {200}
    assert refused <= {"ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError"}
