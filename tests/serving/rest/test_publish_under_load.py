"""The server under load: publishing a version while clients hammer it, and bad requests.

- 8 concurrent clients send 200 requests each while a new version is published: no request fails, and the
  new version answers within a few seconds (slow; ``test_server.py`` has a lighter 4-client version).
- 1,000 bad requests of every kind (malformed JSON, wrong dtype or shape, unknown model, version or
  signature, missing ``instances``, a 100 MB body): each gets TF Serving's ``{"error": ...}`` and a 4xx,
  and the server still answers correctly afterwards.
"""

import concurrent.futures
import json
import socket
import threading
import time

import numpy as np
import pytest

from tests.serving.rest.test_server import call, solid_images
from tests.serving.saved_models import ImageModel, publish, save_model

NUM_CLIENTS = 8
REQUESTS_PER_CLIENT = 200
NEW_VERSION_DEADLINE_S = 5.0
RED = (255, 0, 0)


@pytest.mark.slow
def test_publishing_under_8_concurrent_clients_fails_no_request(tmp_path, dev_server):
    root = tmp_path / "export"
    save_model(ImageModel(), str(root / "image" / "1"))
    # Version 2 answers "blue" for everything, so every answer tells which version served it.
    save_model(ImageModel(bias=(0.0, 0.0, 100.0)), str(tmp_path / "staging-2"))
    server = dev_server(root)  # the default --poll-seconds (1 s), as `make serve` runs it
    server_url = server.url
    url = f"{server_url}/v1/models/image:predict"
    body = {"instances": solid_images(RED)}
    labels = [[] for _ in range(NUM_CLIENTS)]  # per client, in order, with the time each answer came
    failures = []
    requests_sent = threading.Semaphore(0)
    published_at = []

    def client(index: int) -> None:
        for _ in range(REQUESTS_PER_CLIENT):
            status, answer = call(url, body)
            if status == 200:
                labels[index].append((answer["predictions"][0]["labels"], time.monotonic()))
            else:
                failures.append((status, answer))
            requests_sent.release()

    try:
        with concurrent.futures.ThreadPoolExecutor(NUM_CLIENTS) as pool:
            futures = [pool.submit(client, index) for index in range(NUM_CLIENTS)]
            for _ in range(NUM_CLIENTS * 20):  # publish once an eighth of the requests are done
                requests_sent.acquire()
            publish(str(tmp_path / "staging-2"), str(root / "image" / "2"))
            published_at.append(time.monotonic())
            for future in futures:
                future.result()
        answers = [answer for client_labels in labels for answer in client_labels]
        assert failures == []
        assert len(answers) == NUM_CLIENTS * REQUESTS_PER_CLIENT
        assert answers[0][0] == "red"
        # Each client sees version 1, then version 2, never back: the swap is atomic.
        for client_labels in labels:
            sequence = "".join("r" if label == "red" else "b" for label, _ in client_labels)
            assert "br" not in sequence, sequence
        first_new = min((at for label, at in answers if label == "blue"), default=None)
        if first_new is None:  # the clients finished before the swap: keep asking, up to the deadline
            while time.monotonic() - published_at[0] < NEW_VERSION_DEADLINE_S:
                status, answer = call(url, body)
                assert status == 200
                if answer["predictions"][0]["labels"] == "blue":
                    first_new = time.monotonic()
                    break
                time.sleep(0.05)
        assert first_new is not None, f"version 2 not served {NEW_VERSION_DEADLINE_S} s after it was published"
        latency = first_new - published_at[0]
        print(f"version 2 served {latency:.2f} s after publishing; {len(answers)} requests, 0 failed")
        assert latency < NEW_VERSION_DEADLINE_S
        status, answer = call(f"{server_url}/v1/models/image")
        assert status == 200 and answer["model_version_status"][0]["version"] == "2"
    finally:
        assert server.stop() == 0


# Bad requests: (path under /v1/models/, body), one per kind; bytes bodies are sent as they are.
BAD_REQUESTS = [
    # Malformed JSON.
    ("image:predict", b""),
    ("image:predict", b"{"),
    ("image:predict", b"instances = [1, 2]"),
    ("image:predict", b'{"instances": [1, 2,]}'),
    ("image:predict", b'{"instances": [[[[1, 2, 3]]]]'),
    ("image:predict", b'{"instances": "\\x"}'),
    ("image:predict", b"[1, 2]"),
    ("image:predict", b"\xff\xfe\x00garbage"),
    # Wrong dtype.
    ("image:predict", {"instances": [[[[1.5, 0, 0]]]]}),
    ("image:predict", {"instances": [[[[2**40, 0, 0]]]]}),  # not a JSON int32 (256 would be: it wraps)
    ("image:predict", {"inputs": [[[[True, 0, 0]]]]}),
    ("image:predict", {"inputs": [[[["a", 0, 0]]]]}),
    ("image:predict", {"inputs": [[[[{"b64": "AAAA"}, 0, 0]]]]}),
    ("text:predict", {"instances": [5]}),
    ("text:predict", {"instances": [{"b64": "###"}]}),
    ("image:predict", {"signature_name": 100, "instances": [1]}),
    # Wrong shape.
    ("image:predict", {"instances": [[1, 2, 3]]}),
    ("image:predict", {"inputs": [[[[0, 0, 0], [0, 0]]]]}),
    ("image:predict", {"instances": [[1, 2], [3]]}),
    ("image:predict", {"instances": [[1, 2], [[3, 4]]]}),
    # (TF Serving does not check shapes against the signature, only the graph does: x [[1, 2, 3]] would pass.)
    ("image:predict", {"signature_name": "combine", "inputs": {"x": [[1, 2], [3, 4]], "offset": [1, 2, 3]}}),
    ("image:predict", {"signature_name": "combine", "instances": [1, 2]}),
    # Unknown model, version, label or signature.
    ("nope:predict", {"instances": [1]}),
    ("image/versions/50:predict", {"instances": [1]}),
    ("image/versions/18446744073709551615:predict", {"instances": [1]}),
    ("image/labels/stable:predict", {"instances": [1]}),
    ("image:predict", {"signature_name": "nope", "instances": [1]}),
    ("image:classify", {"examples": [{}]}),
    # Missing or conflicting instances / inputs.
    ("image:predict", {}),
    ("image:predict", {"signature_name": "serving_default"}),
    ("image:predict", {"instances": []}),
    ("image:predict", {"instances": {"images": [1]}}),
    ("image:predict", {"instances": [1], "inputs": [1]}),
    ("image:predict", {"signature_name": "combine", "inputs": {"x": [[1, 2]]}}),
    ("image:predict", {"signature_name": "combine", "instances": [{"x": [1, 2]}]}),
]
HUGE_BODY_BYTES = 100 * 1000 * 1000  # declared, not sent: the server refuses it from the headers


def send_huge_body(server_url: str) -> tuple[int, object]:
    """Declares a 100 MB body and sends its first bytes; returns the status and the parsed answer."""
    host, port = server_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            f"POST /v1/models/image:predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {HUGE_BODY_BYTES}\r\n\r\n".encode("ascii")
            + b'{"instances": ['
            + b"0," * 4096
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, payload = answer.decode("utf-8").partition("\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def send_bad_requests(server_url: str, count: int, num_threads: int = 4) -> list[tuple[int, object, str]]:
    """Sends `count` bad requests (every kind in turn, one in 50 a 100 MB body) from a few threads."""

    def send(index: int) -> tuple[int, object, str]:
        if index % 50 == 49:
            return (*send_huge_body(server_url), "100 MB body")
        path, body = BAD_REQUESTS[index % len(BAD_REQUESTS)]
        return (*call(f"{server_url}/v1/models/{path}", body), f"{path} {body!r}"[:200])

    with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
        return list(pool.map(send, range(count)))


def test_1000_bad_requests_get_tf_serving_errors_and_leave_the_server_healthy(server_url):
    results = send_bad_requests(server_url, 1000)  # about 2 s on 2 busy cores
    assert len(results) == 1000
    for status, answer, request in results:
        assert 400 <= status < 500, (status, answer, request)
        assert isinstance(answer, dict) and list(answer) == ["error"], (answer, request)
        assert isinstance(answer["error"], str) and answer["error"], request
    status, answer = call(f"{server_url}/v1/models/image")
    assert status == 200 and answer["model_version_status"][0]["state"] == "AVAILABLE"
    status, answer = call(f"{server_url}/v1/models/image:predict", {"instances": solid_images(RED, (0, 0, 255))})
    assert status == 200
    assert [prediction["labels"] for prediction in answer["predictions"]] == ["red", "blue"]
    assert np.allclose([sum(prediction["probabilities"]) for prediction in answer["predictions"]], 1.0)
