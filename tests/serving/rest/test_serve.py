"""serving.rest.serve: which server `make serve` starts, with which flags, and the container config."""

import os
import re

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.rest import serve

MODELS_CONFIG = """model_config_list {
  config {
    name: 'image'
    base_path: '%s/image'
    model_platform: 'tensorflow'
  }
  config {
    name: "video"
    base_path: "%s/video"
    model_platform: "tensorflow"
  }
}
"""


@pytest.fixture
def export_root(tmp_path):
    root = tmp_path / "export"
    root.mkdir()
    (root / "models.config").write_text(MODELS_CONFIG % (root, root))
    return root


def test_container_config_maps_base_paths_into_the_container(export_root):
    path = serve.write_container_config(str(export_root))
    config = text_format.Parse(open(path).read(), model_server_config_pb2.ModelServerConfig())
    assert [(model.name, model.base_path) for model in config.model_config_list.config] == [
        ("image", "/models/image"),
        ("video", "/models/video"),
    ]


def test_container_config_refuses_paths_outside_the_export_root(export_root):
    with pytest.raises(ValueError, match="outside the export root"):
        serve.container_config("base_path: '/etc/passwd'", str(export_root))


def test_batching_config_sets_known_fields():
    fields = re.findall(r"^(\w+) \{ value: (\w+) \}$", open(serve.BATCHING_CONFIG).read(), re.MULTILINE)
    known = {"max_batch_size", "batch_timeout_micros", "num_batch_threads", "max_enqueued_batches"}
    assert known | {"pad_variable_length_inputs"} == {name for name, _ in fields}


def test_serving_image_matches_the_tensorflow_minor_version():
    assert re.fullmatch(r"tensorflow/serving:2\.21\.0", serve.serving_image())


def test_tf_serving_binary_is_exec_d_with_config_batching_and_port(export_root, monkeypatch, capsys):
    monkeypatch.setattr(serve.shutil, "which", lambda name: "/usr/bin/tensorflow_model_server")
    calls = []

    def execv(path, command):  # os.execv never returns
        calls.append(command)
        raise SystemExit(0)

    monkeypatch.setattr(serve.os, "execv", execv)
    with pytest.raises(SystemExit):
        serve.main(["--port", "9000", "--export-root", str(export_root)])
    command = calls[0]
    assert "--rest_api_port=9000" in command
    assert f"--model_config_file={export_root}/models.config" in command
    assert "--enable_batching" in command
    assert f"--batching_parameters_file={serve.BATCHING_CONFIG}" in command
    assert any(argument.startswith("--model_config_file_poll_wait_seconds=") for argument in command)
    assert capsys.readouterr().out.startswith("serve: started TF Serving")


def test_tf_serving_without_models_config_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(serve.shutil, "which", lambda name: "/usr/bin/tensorflow_model_server")
    assert serve.main(["--export-root", str(tmp_path)]) == 2
    assert "models.config not found" in capsys.readouterr().err


def test_docker_runs_the_matching_image_on_host_and_port(export_root, monkeypatch, capsys):
    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    monkeypatch.setattr(serve, "docker_answers", lambda: True)
    monkeypatch.setattr(serve, "docker_image_available", lambda image: True)
    calls = []
    monkeypatch.setattr(serve, "run_container", lambda command, root: calls.append(command) or 0)
    assert serve.main(["--port", "9001", "--host", "127.0.0.1", "--export-root", str(export_root)]) == 0
    command = calls[0]
    assert command[:3] == ["docker", "run", "--rm"]
    assert "127.0.0.1:9001:8501" in command
    assert f"{export_root}:/models:ro" in command
    assert serve.serving_image() in command
    assert "--model_config_file=/models/models.container.config" in command
    assert os.path.exists(export_root / "models.container.config")
    assert "in Docker" in capsys.readouterr().out


def test_falls_back_to_the_development_server(export_root, monkeypatch, capsys):
    monkeypatch.setattr(serve.shutil, "which", lambda name: None)
    monkeypatch.setattr(serve, "docker_answers", lambda: False)
    from serving.rest import server

    calls = []
    monkeypatch.setattr(server, "main", lambda argv: calls.append(argv) or 0)
    assert serve.main(["--port", "9002", "--host", "0.0.0.0", "--export-root", str(export_root)]) == 0
    assert calls == [["--export-root", str(export_root), "--host", "0.0.0.0", "--port", "9002"]]
    assert "started the development server" in capsys.readouterr().out
