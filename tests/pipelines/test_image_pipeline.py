"""The image pipeline end to end, as a user runs it: train, evaluate, export, reload fresh."""

import json
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from tests.helpers import MOBILENET_025, PROJECT_ROOT, run_module


def latest_run(runs_dir):
    (run_dir,) = sorted((runs_dir / "image").glob("2*"))[-1:]
    return run_dir


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One ``PRESET=tiny`` run on the embedded shapes, shared by the tests below.

    Five of the preset's six epochs: with the preset's seed the fifth has the lowest validation loss
    (1.18; the sixth 1.53) and its weights are the ones restored and tested, so the test accuracy is
    the same, 0.51, one epoch sooner.
    """
    root = tmp_path_factory.mktemp("tiny")
    result = run_module(
        "pipelines.image",
        "--preset",
        "tiny",
        "--epochs",
        "5",
        "--runs-dir",
        str(root / "runs"),
        "--export-dir",
        str(root / "export"),
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_tiny_run_beats_chance_and_writes_its_run_folder(tiny_run):
    root, result = tiny_run
    run_dir = latest_run(root / "runs")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.3, metrics["test"]  # six classes: chance is 1/6
    for name in ("config.json", "history.csv", "training_curves.png", "confusion_matrix.png", "best.weights.h5"):
        assert (run_dir / name).exists(), name
    assert json.loads((run_dir / "config.json").read_text())["max_train_examples"] == 3000
    assert "test accuracy" in result.stdout and "exported to" in result.stdout


def test_export_layout_and_fresh_reload(tiny_run):
    root, _ = tiny_run
    version_dir = root / "export" / "image" / "1"
    assert (version_dir / "saved_model.pb").exists() and (version_dir / "variables").is_dir()
    assert (version_dir / "assets.extra" / "classes.txt").read_text().split() == [
        "circle",
        "square",
        "triangle",
        "star",
        "cross",
        "ring",
    ]
    config_text = (root / "export" / "models.config").read_text()
    assert "name: 'image'" in config_text and str(root / "export" / "image") in config_text
    assert not list((root / "export" / "image").glob(".tmp-*"))
    metrics = json.loads((latest_run(root / "runs") / "metrics.json").read_text())
    assert metrics["export"]["reload_max_difference"]["serving_default"] <= 1e-5


def test_signatures_in_plain_tensorflow(tiny_run, tmp_path):
    """A fresh process that imports only TensorFlow: dtypes, names and consistent outputs."""
    root, _ = tiny_run
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 57, 83, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    encoded = [cv2.imencode(".png", image[..., ::-1])[1].tobytes() for image in images]
    for index, data in enumerate(encoded):
        (tmp_path / f"{index}.png").write_bytes(data)
    script = f"""
import json, numpy as np, tensorflow as tf
loaded = tf.saved_model.load({str(root / "export" / "image" / "1")!r})
default = loaded.signatures["serving_default"]
encoded = loaded.signatures["encoded"]
classes = loaded.signatures["classes"]
report = {{
  "inputs": {{k: v.dtype.name for k, v in default.structured_input_signature[1].items()}},
  "encoded_inputs": {{k: v.dtype.name for k, v in encoded.structured_input_signature[1].items()}},
  "outputs": sorted(default.structured_outputs),
}}
images = np.load({str(tmp_path / "images.npy")!r})
raw = default(images=tf.constant(images))
data = [open({str(tmp_path)!r} + f"/{{i}}.png", "rb").read() for i in range(3)]
decoded = encoded(image_bytes=tf.constant(data))
report["difference"] = float(np.abs(raw["probabilities"].numpy() - decoded["probabilities"].numpy()).max())
report["labels"] = [x.decode() for x in raw["labels"].numpy()]
report["shape"] = list(raw["probabilities"].shape)
report["classes"] = [x.decode() for x in classes(query=tf.constant([""]))["classes"].numpy()[0]]
print(json.dumps(report))
"""
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["inputs"] == {"images": "uint8"} and report["encoded_inputs"] == {"image_bytes": "string"}
    assert report["outputs"] == ["labels", "probabilities"] and report["shape"] == [3, 6]
    # Lossless PNG; the encoded path rounds the resized image to uint8 before the model: ~1e-4 at most.
    assert report["difference"] < 1e-3
    assert set(report["labels"]) <= set(report["classes"]) and len(report["classes"]) == 6


def test_folder_dataset_and_mirrored_strategy(tmp_path):
    """A folder of class folders under MirroredStrategy over two logical CPUs."""
    rng = np.random.default_rng(0)
    for class_index, name in enumerate(("dark", "bright")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for index in range(20):
            level = 40 + 160 * class_index
            image = np.clip(rng.normal(level, 20, (24 + index, 30, 3)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(tmp_path / "data" / name / f"{index}.jpg"), image)
    result = run_module(
        "pipelines.image",
        "--preset",
        "tiny",
        "--dataset",
        str(tmp_path / "data"),
        "--epochs",
        "2",
        "--set",
        "image_size=16",
        "--filters",
        "8,16",
        "--strategy",
        "mirrored",
        "--logical-cpus",
        "2",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--no-export",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy" in result.stderr
    metrics = json.loads((latest_run(tmp_path / "runs") / "metrics.json").read_text())
    assert metrics["sizes"] == {"train": 32, "validation": 4, "test": 4}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--dataset", "/no/such/folder"], "does not exist"),
        (["--dataset", "{empty}"], "no class sub-folders"),
        (["--dataset", "tfds:mnist"], "network is unreachable"),
        (["--dataset", "tfds:surely_not_a_dataset"], "unknown TFDS dataset"),
        (["--set", "colour=red"], "unknown config key 'colour'"),
        (["--bogus-flag"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, arguments, message):
    (tmp_path / "empty").mkdir()
    arguments = [a.replace("{empty}", str(tmp_path / "empty")) for a in arguments]
    start = time.monotonic()
    result = run_module(
        "pipelines.image",
        *arguments,
        "--runs-dir",
        str(tmp_path / "runs"),
        env={"TFDS_DATA_DIR": str(tmp_path / "tfds"), "HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert time.monotonic() - start < 45  # TensorFlow import dominates; no network wait


def test_help_lists_config_fields():
    result = run_module("pipelines.image", "--help", timeout=60)
    assert result.returncode == 0 and "--image-size" in result.stdout and "--preset" in result.stdout
    assert PROJECT_ROOT.joinpath("Makefile").exists()


MOBILENET_025_SHA256 = "17f2725282ddcf591d7e68f1042c4219f6dcbdf6acc9fe78b6260844cd5d203f"


def _colour_folder(root, per_class=40, size=48):
    """Two classes of photos, reddish and bluish noise (ImageNet features tell them apart at once)."""
    rng = np.random.default_rng(0)
    for name, colour in (("red", (60, 60, 200)), ("blue", (200, 60, 60))):  # BGR, as OpenCV writes
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            side = size + 8 * (index % 2)
            photo = np.clip(rng.normal(colour, 40, (side, side, 3)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / name / f"{index}.png"), photo)
    return root


@pytest.mark.skipif(not MOBILENET_025.exists(), reason=f"no shared ImageNet weights at {MOBILENET_025.parent}")
def test_a_backbone_trains_frozen_then_fine_tuned_and_its_export_reloads(tmp_path):
    """MobileNet 0.25 from its ImageNet file (1 MB): the head on the frozen backbone's cached features,
    then its top fine-tuned; the export names the encoder and the weights file, and reloads fresh."""
    data = _colour_folder(tmp_path / "photos")
    result = run_module(
        "pipelines.image", "--dataset", str(data), "--encoder", "mobilenet_0.25", "--encoder-weights",
        str(MOBILENET_025), "--image-size", "32", "--frozen-epochs", "4", "--epochs", "2",
        "--fine-tune-fraction", "0.2", "--runs-dir", str(tmp_path / "runs"),
        "--export-dir", str(tmp_path / "export"), timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"encoder mobilenet_0.25 with file weights ({MOBILENET_025.name}, sha256 17f27252" in result.stderr
    run_dir = latest_run(tmp_path / "runs")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["encoder"] == "mobilenet_0.25" and metrics["test"]["accuracy"] >= 0.75, metrics["test"]
    assert metrics["encoder_weights"] == {"weights": "file", "file": MOBILENET_025.name, "sha256": MOBILENET_025_SHA256}
    assert 0 <= metrics["linear_probe_accuracy"] <= 1
    head_epochs = len((run_dir / "frozen_backbone" / "history.csv").read_text().splitlines()) - 1
    assert 1 <= head_epochs <= 4 and metrics["epochs_run"] == head_epochs + 2
    extra = json.loads((tmp_path / "export" / "image" / "1" / "assets.extra" / "config.json").read_text())
    assert extra["encoder"] == "mobilenet_0.25" and extra["encoder_weights_file"]["sha256"] == MOBILENET_025_SHA256
    assert max(metrics["export"]["reload_max_difference"].values()) <= 1e-5
