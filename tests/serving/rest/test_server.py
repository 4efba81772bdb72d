"""The development server over HTTP: TF Serving's formats, its error catalogue, reload and shutdown."""

import base64
import json
import shutil
import socket
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.serving.saved_models import IMAGE_CLASS_NAMES, publish


def call(url: str, body=None, method: str | None = None) -> tuple[int, object]:
    """Sends one request; returns the HTTP status and the parsed JSON answer (text if not JSON)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def solid_images(*colors) -> list:
    """A batch of 2x2 RGB images, one per color, as nested lists."""
    return np.stack([np.full((2, 2, 3), color, np.uint8) for color in colors]).tolist()


RED, BLUE = (255, 0, 0), (0, 0, 255)


def test_status_lists_the_served_version(server_url):
    expected = {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    assert call(f"{server_url}/v1/models/image") == (200, expected)
    assert call(f"{server_url}/v1/models/image/versions/1") == (200, expected)


def test_metadata_has_tf_serving_signature_defs(server_url):
    status, metadata = call(f"{server_url}/v1/models/image/metadata")
    assert status == 200
    assert metadata["model_spec"] == {"name": "image", "signature_name": "", "version": "1"}
    signature_defs = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "classes", "combine"} <= set(signature_defs)
    default = signature_defs["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    images = default["inputs"]["images"]
    assert images["dtype"] == "DT_UINT8"
    assert images["tensor_shape"] == {
        "dim": [{"size": "-1", "name": ""}] * 3 + [{"size": "3", "name": ""}],
        "unknown_rank": False,
    }
    assert default["outputs"]["probabilities"]["dtype"] == "DT_FLOAT"
    assert default["outputs"]["labels"]["dtype"] == "DT_STRING"


def test_predict_row_format_returns_one_object_per_instance(server_url):
    status, answer = call(f"{server_url}/v1/models/image:predict", {"instances": solid_images(RED, BLUE)})
    assert status == 200
    predictions = answer["predictions"]
    assert [prediction["labels"] for prediction in predictions] == ["red", "blue"]
    assert np.allclose(np.sum([prediction["probabilities"] for prediction in predictions], axis=1), 1.0)


def test_predict_columnar_format_returns_whole_tensors(server_url):
    body = {"signature_name": "serving_default", "inputs": {"images": solid_images(RED, BLUE, RED)}}
    status, answer = call(f"{server_url}/v1/models/image/versions/1:predict", body)
    assert status == 200
    assert answer["outputs"]["labels"] == ["red", "blue", "red"]
    assert np.asarray(answer["outputs"]["probabilities"]).shape == (3, 3)


def test_single_output_signature_answers_bare_values(server_url):
    status, answer = call(f"{server_url}/v1/models/image:predict", {"signature_name": "classes", "instances": [""]})
    assert (status, answer) == (200, {"predictions": [IMAGE_CLASS_NAMES]})
    status, answer = call(f"{server_url}/v1/models/image:predict", {"signature_name": "classes", "inputs": ["", ""]})
    assert (status, answer) == (200, {"outputs": [IMAGE_CLASS_NAMES, IMAGE_CLASS_NAMES]})


def test_multi_input_signature_in_both_formats(server_url):
    url = f"{server_url}/v1/models/image:predict"
    row = {"signature_name": "combine", "instances": [{"x": [1, 2.5], "offset": 3}, {"x": [0, 0], "offset": -1}]}
    assert call(url, row) == (
        200,
        {"predictions": [{"doubled": [2.0, 5.0], "total": 6.5}, {"doubled": [0.0, 0.0], "total": -1.0}]},
    )
    columnar = {"signature_name": "combine", "inputs": {"x": [[1, 2.5]], "offset": [3], "ignored": 1}}
    assert call(url, columnar) == (200, {"outputs": {"doubled": [[2.0, 5.0]], "total": [6.5]}})


def test_string_inputs_accept_plain_and_b64_values(server_url):
    long_text = base64.b64encode("héllo wörld".encode()).decode("ascii")
    body = {"instances": ["hi", {"b64": long_text}]}
    status, answer = call(f"{server_url}/v1/models/text:predict", body)
    assert status == 200
    assert [prediction["labels"] for prediction in answer["predictions"]] == ["short", "long"]


def test_outputs_named_bytes_are_base64_encoded(server_url):
    payload = bytes([0, 1, 2, 255])
    body = {"signature_name": "echo", "inputs": [{"b64": base64.b64encode(payload).decode("ascii")}]}
    status, answer = call(f"{server_url}/v1/models/text:predict", body)
    assert status == 200
    assert answer["outputs"]["length"] == [4]
    assert base64.b64decode(answer["outputs"]["data_bytes"][0]["b64"]) == payload


@pytest.mark.parametrize(
    "path, body, expected_status, expected_message",
    [
        ("image:predict", b"", 400, "JSON Parse error: The document is empty"),
        ("image:predict", b"instances = [1, 2]", 400, "JSON Parse error: Invalid value. at offset: 0"),
        ("image:predict", b"[1, 2]", 400, "JSON Value: [1, 2] Is not object"),
        ("image:predict", {"signature_name": 100}, 400, "'signature_name' key must be a string value."),
        ("image:predict", {"signature_name": "nope", "instances": [1]}, 400, 'Serving signature name: "nope" not'),
        ("image:predict", {"instances": []}, 400, "No values in 'instances' array"),
        ("image:predict", {"predict": [1]}, 400, "Missing 'inputs' or 'instances' key"),
        ("image:predict", {"instances": [1], "inputs": [1]}, 400, "expecting only one of 'inputs' or 'instances'"),
        (
            "image:predict",
            {"instances": [[[[1.5, 0, 0]]]]},
            400,
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: 1.5 Type: "
            "Number is not of expected type: uint8",
        ),
        ("image:predict", {"inputs": [[[[True, 0, 0]]]]}, 400, "Type: True is not of expected type: uint8"),
        ("image:predict", {"inputs": [[[["a", 0, 0]]]]}, 400, 'JSON Value: "a" Type: String is not of expected'),
        ("image:predict", {"inputs": [[[[0, 0, 0], [0, 0]]]]}, 400, "Encountered list at unexpected size: 2 at level"),
        ("image:predict", {"instances": [[1, 2], [3]]}, 400, "Expecting tensor size: 2 but got: 1"),
        ("image:predict", {"instances": [[1, 2], [[3, 4]]]}, 400, "Expecting shape [2] but got: [1,2]"),
        # Shapes are not checked against the signature: TensorFlow rejects them when the graph runs.
        ("image:predict", {"instances": [[1, 2, 3]]}, 400, "Invalid reduction dimension"),
        (
            "image:predict",
            {"signature_name": "combine", "instances": [1, 2]},
            400,
            "instances is a plain list, but expecting list of objects",
        ),
        ("image:predict", {"signature_name": "combine", "inputs": {"x": [[1, 2]]}}, 400, "Missing named input: offset"),
        ("image:predict", {"signature_name": "combine", "instances": [{"x": [1, 2]}]}, 400, "keys must be equal to"),
        ("text:predict", {"instances": [{"b64": "###"}]}, 400, "Unable to base64 decode"),
        ("text:predict", {"instances": [5]}, 400, "Type: Number is not of expected type: string"),
        (
            "text:predict",
            {"signature_name": "half", "inputs": [1.0]},
            501,
            "Conversion of JSON Value: 1.0 to type: half",
        ),
        ("foo:predict", {"instances": [1]}, 404, "Servable not found for request: Latest(foo)"),
        ("image/versions/50:predict", {"instances": [1]}, 404, "Servable not found for request: Specific(image, 50)"),
        ("image/labels/stable:predict", {"instances": [1]}, 400, "Unrecognized servable version label: stable"),
    ],
)
def test_predict_errors_match_tf_serving(server_url, path, body, expected_status, expected_message):
    status, answer = call(f"{server_url}/v1/models/{path}", body)
    assert status == expected_status
    assert expected_message in answer["error"]


@pytest.mark.parametrize(
    "method, path, expected_status, expected_message",
    [
        ("GET", "/v1/models/foo", 404, "Could not find any versions of model foo"),
        ("GET", "/v1/models/image/versions/7", 404, "Could not find version 7 of model image"),
        ("GET", "/v1/models/foo/metadata", 404, "Servable not found for request: Latest(foo)"),
        ("GET", "/v1/models", 400, "Missing model name in request."),
        ("GET", "/v1/foo", 400, "Malformed request: GET /v1/foo"),
        ("GET", "/v1/models/image:predict", 400, "Malformed request"),
        ("POST", "/v1/models/image/metadata", 400, "Malformed request"),
        ("POST", "/v1/models/image/versions/HELLO:predict", 400, "Malformed request"),
        ("POST", "/v1/models/image/versions/18446744073709551615:predict", 400, "Failed to convert version"),
        ("PUT", "/v1/models/image", 400, "Malformed request: PUT /v1/models/image"),
        # Model names are only looked up among the exported models, never turned into paths.
        ("GET", "/v1/models/..%2F..%2Fetc", 404, "Could not find any versions of model ../../etc"),
        ("GET", "/v1/models/.tmp-7", 404, "Could not find any versions of model .tmp-7"),
    ],
)
def test_routing_errors_match_tf_serving(server_url, method, path, expected_status, expected_message):
    body = b"{}" if method in ("POST", "PUT") else None
    status, answer = call(server_url + path, body, method)
    assert status == expected_status
    assert expected_message in answer["error"]


def test_models_without_a_complete_version_are_not_served(server_url):
    # image/9 has no saved_model.pb, so version 1 is still the latest.
    status, answer = call(f"{server_url}/v1/models/image")
    assert answer["model_version_status"][0]["version"] == "1"
    assert call(f"{server_url}/v1/models/models.config")[0] == 404


def test_oversized_body_is_refused_before_it_is_read(server_url):
    host, port = server_url.removeprefix("http://").split(":")
    declared = 4 << 20  # over the fixture's 1 MiB limit; only a little of it is ever sent
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"POST /v1/models/image:predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode("ascii")
            + b'{"instances": ['
        )
        answer = b""
        while not answer.endswith(b"}"):  # headers and body may arrive in separate packets
            chunk = connection.recv(65536)
            assert chunk, "connection closed before the error body arrived"
            answer += chunk
        answer = answer.decode("utf-8")
    assert answer.startswith("HTTP/1.1 413")
    assert '{"error": "Request body of 4194304 bytes is larger than' in answer


def test_oversized_body_sent_in_full_still_gets_the_error(server_url):
    body = b'{"instances": [' + b"0," * (1 << 20) + b"0]}"
    status, answer = call(f"{server_url}/v1/models/image:predict", body)
    assert status == 413
    assert "larger than the server's limit" in answer["error"]


def test_new_version_is_picked_up_without_failing_concurrent_requests(server_url, export_root):
    url = f"{server_url}/v1/models/reload:predict"
    body = {"instances": solid_images(RED)}
    labels_seen, failures = [], []
    lock = threading.Lock()

    def client(client_index: int) -> None:
        # Each client sends at least 30 requests and keeps going until it has seen version 2's answer, so
        # that the swap happens while requests are in flight.
        for request_index in range(300):
            status, answer = call(url, body)
            with lock:
                if status != 200:
                    failures.append(answer)
                else:
                    labels_seen.append(answer["predictions"][0]["labels"])
            if client_index == 0 and request_index == 5:
                publish(str(export_root / "reload" / ".tmp-2"), str(export_root / "reload" / "2"))
            if request_index >= 29 and status == 200 and answer["predictions"][0]["labels"] == "blue":
                return

    threads = [threading.Thread(target=client, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert labels_seen[0] == "red" and labels_seen[-1] == "blue"  # version 1's answer, then version 2's
    assert len(labels_seen) >= 120
    status, answer = call(f"{server_url}/v1/models/reload")
    assert answer["model_version_status"][0]["version"] == "2"
    assert call(f"{server_url}/v1/models/reload/versions/1:predict", body)[0] == 404


def test_sigterm_stops_the_server_cleanly(export_root, tmp_path, dev_server):
    root = tmp_path / "export"
    shutil.copytree(export_root / "text", root / "text")
    server = dev_server(root)
    url = server.url
    assert call(f"{url}/v1/models/text")[0] == 200
    assert server.stop() == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/v1/models/text", timeout=5)
