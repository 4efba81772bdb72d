"""serving.rest.client against the development server."""

import socket
import time

import numpy as np
import pytest

from serving.rest import client as client_module
from tests.serving.saved_models import IMAGE_CLASS_NAMES


def solid_images(*colors) -> np.ndarray:
    return np.stack([np.full((2, 2, 3), color, np.uint8) for color in colors])


@pytest.fixture(scope="module")
def client(server_url):
    return client_module.Client(server_url, timeout=30, retries=0)


def test_status_metadata_and_latest_version(client):
    assert client.status("image")["model_version_status"][0]["state"] == "AVAILABLE"
    assert "serving_default" in client.metadata("image", version=1)["metadata"]["signature_def"]["signature_def"]
    assert client.latest_version("image") == 1


@pytest.mark.parametrize("columnar", [True, False])
def test_predict_returns_arrays_with_signature_dtypes(client, columnar):
    outputs = client.predict("image", {"images": solid_images((255, 0, 0), (0, 0, 255))}, columnar=columnar)
    assert outputs["probabilities"].dtype == np.float32
    assert outputs["probabilities"].shape == (2, 3)
    assert outputs["labels"].tolist() == ["red", "blue"]


def test_predict_with_a_bare_array_and_a_version(client):
    outputs = client.predict("image", solid_images((0, 255, 0)), version=1)
    assert outputs["labels"].tolist() == ["green"]


def test_bytes_go_out_as_b64_and_bytes_outputs_come_back_as_bytes(client):
    payload = np.array([b"\x00\x01\xff", b"hello world"], dtype=object)
    outputs = client.predict("text", {"data": payload}, signature_name="echo")
    assert outputs["data_bytes"].tolist() == payload.tolist()
    assert outputs["length"].dtype == np.int32 and outputs["length"].tolist() == [3, 11]
    labels = client.predict("text", np.array(["hi", "a longer text"]))["labels"]
    assert labels.tolist() == ["short", "long"]


def test_multi_input_signature_in_row_format(client):
    inputs = {"x": np.array([[1, 2], [3, 4]], np.float32), "offset": np.array([1, 2], np.int32)}
    outputs = client.predict("image", inputs, signature_name="combine", columnar=False)
    assert outputs["total"].tolist() == [4.0, 9.0]
    assert outputs["doubled"].shape == (2, 2)


def test_class_names_come_from_the_classes_signature(client):
    assert client.class_names("image") == IMAGE_CLASS_NAMES


def test_errors_carry_the_server_message_and_status_without_retrying(server_url):
    retrying_client = client_module.Client(server_url, retries=3, backoff_seconds=5)
    started = time.monotonic()
    with pytest.raises(client_module.ModelServerError) as raised:
        retrying_client.status("missing")
    assert raised.value.status == 404
    assert raised.value.message == "Could not find any versions of model missing"
    with pytest.raises(client_module.ModelServerError) as raised:
        retrying_client.predict("image", {"images": np.zeros((1, 2), np.uint8)})
    assert raised.value.status == 400
    assert time.monotonic() - started < 5  # no backoff sleep on 4xx


def test_connection_errors_are_retried_with_backoff(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the client connects
    sleeps = []
    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)
    unreachable = client_module.Client(f"http://127.0.0.1:{port}", retries=2, backoff_seconds=0.1)
    with pytest.raises(ConnectionError, match="Cannot reach the model server"):
        unreachable.status("image")
    assert sleeps == [0.1, 0.2]


def test_requests_share_one_kept_alive_connection_and_survive_its_closing(server_url):
    kept = client_module.Client(server_url, retries=0)
    kept.status("image")
    connection = kept._local.connection
    local_port = connection.sock.getsockname()[1]
    for _ in range(3):
        kept.predict("image", {"images": solid_images((255, 0, 0))})
    assert kept._local.connection is connection and connection.sock.getsockname()[1] == local_port
    connection.sock.shutdown(socket.SHUT_RDWR)  # as when the server closes an idle connection
    assert kept.latest_version("image") >= 1  # a fresh connection at once, no retry needed (retries=0)
    assert kept._local.connection is not connection
