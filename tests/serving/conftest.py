"""Fixtures for the serving tests: tiny SavedModels in a temporary export root, and a running dev server.

The models follow the project's signature contract in miniature (named inputs, dict outputs,
`probabilities` + `labels`, a `classes` signature) plus a few signatures that exercise the REST codec
(multi-input, `_bytes` outputs, an unsupported float16 input).
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_CLASS_NAMES = ["red", "green", "blue"]
TEXT_CLASS_NAMES = ["short", "long"]


class ImageModel(tf.Module):
    """Classifies an image by its dominant RGB channel; `bias` lets a second version answer differently."""

    def __init__(self, bias=(0.0, 0.0, 0.0)):
        super().__init__()
        self.bias = tf.Variable(np.asarray(bias, np.float32))
        self.class_names = tf.constant(IMAGE_CLASS_NAMES)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve(self, images):
        channel_means = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2]) / 255.0  # (batch, 3)
        probabilities = tf.nn.softmax(channel_means * 10.0 + self.bias)
        return {"probabilities": probabilities, "labels": tf.gather(self.class_names, tf.argmax(probabilities, -1))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="query")])
    def classes(self, query):
        return {"classes": tf.tile(self.class_names[tf.newaxis], [tf.shape(query)[0], 1])}

    @tf.function(
        input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x"), tf.TensorSpec([None], tf.int32, name="offset")]
    )
    def combine(self, x, offset):
        return {"total": tf.reduce_sum(x, axis=-1) + tf.cast(offset, tf.float32), "doubled": x * 2.0}

    def signatures(self):
        return {"serving_default": self.serve, "classes": self.classes, "combine": self.combine}


class TextModel(tf.Module):
    """Classifies a string as short (< 5 bytes) or long; `echo` returns raw bytes as a `_bytes` output."""

    def __init__(self):
        super().__init__()
        self.class_names = tf.constant(TEXT_CLASS_NAMES)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        is_long = tf.cast(tf.strings.length(text) >= 5, tf.float32)  # (batch,)
        probabilities = tf.stack([1.0 - is_long, is_long], axis=-1)
        return {"probabilities": probabilities, "labels": tf.gather(self.class_names, tf.argmax(probabilities, -1))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data")])
    def echo(self, data):
        return {"data_bytes": data, "length": tf.strings.length(data)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float16, name="values")])
    def half(self, values):
        return {"values": tf.cast(values, tf.float32)}

    def signatures(self):
        return {"serving_default": self.serve, "echo": self.echo, "half": self.half}


def save_model(module, directory: str) -> str:
    """Saves a tf.Module with its signatures to `directory` (a SavedModel)."""
    tf.saved_model.save(module, directory, signatures=module.signatures())
    return directory


def publish(staging_dir: str, version_dir: str) -> None:
    """Moves a complete SavedModel into place atomically, as the export code does."""
    os.makedirs(os.path.dirname(version_dir), exist_ok=True)
    os.rename(staging_dir, version_dir)


@pytest.fixture(scope="session")
def export_root(tmp_path_factory):
    """An export root with `image/1`, `text/1`, `reload/1` and a staged (not yet published) `reload` v2."""
    root = tmp_path_factory.mktemp("export")
    save_model(ImageModel(), str(root / "image" / "1"))
    save_model(TextModel(), str(root / "text" / "1"))
    save_model(ImageModel(), str(root / "reload" / "1"))
    # Version 2 always answers "blue"; it is renamed into place by the reload test.
    save_model(ImageModel(bias=(0.0, 0.0, 100.0)), str(root / "reload" / ".tmp-2"))
    # Things the server must ignore: a staging folder, a version without saved_model.pb, a non-model file.
    (root / "image" / ".tmp-7").mkdir()
    (root / "image" / "9").mkdir()
    (root / "models.config").write_text("model_config_list {}\n")
    return root


def start_server(export_root, *extra_args) -> tuple[subprocess.Popen, str]:
    """Starts `python -m serving.rest.server` on a free port; returns the process and its base URL."""
    environment = dict(os.environ, PYTHONPATH=REPOSITORY_ROOT, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-m", "serving.rest.server", "--export-root", str(export_root), "--port", "0"]
    process = subprocess.Popen(
        command + list(extra_args),
        cwd=REPOSITORY_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"http://([\d.]+):(\d+)", line)
        if match:
            return process, f"http://{match.group(1)}:{match.group(2)}"
    process.kill()
    raise RuntimeError(f"the development server did not start (exit code {process.poll()})")


def stop_server(process: subprocess.Popen) -> int:
    """Sends SIGTERM and returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="session")
def server_url(export_root):
    """Base URL of a development server over `export_root` (polling every 0.2 s, 1 MiB request limit)."""
    process, url = start_server(export_root, "--poll-seconds", "0.2", "--max-request-bytes", str(1 << 20))
    yield url
    stop_server(process)


@pytest.fixture(scope="module")
def stub_exports(tmp_path_factory):
    """An export root with ``serving.export.stub_export``'s untrained ``video`` and ``image`` models (16x16 input)."""
    from serving.export import stub_export

    root = tmp_path_factory.mktemp("stub_export")
    for name in ("video", "image"):
        stub_export.export_stub(root, name, image_size=16)
    return root
