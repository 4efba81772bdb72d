"""``python -m pipelines.video`` end to end: a tiny run that trains, exports and is checked fresh; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import run_module

TINY = ("--preset", "tiny", "--max-train-examples", "64", "--max-eval-examples", "32")

# Runs in a fresh interpreter that imports only TensorFlow and NumPy, as TF Serving would load it.
FRESH_CHECK = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    loaded = tf.saved_model.load(sys.argv[1])
    serve, stream = loaded.signatures["serving_default"], loaded.signatures["stream"]
    frames = np.random.default_rng(0).integers(0, 256, (2, 24, 20, 28, 3), dtype=np.uint8)
    whole = serve(frames=tf.constant(frames))
    state_names = sorted(k for k in stream.structured_input_signature[1] if k != "frames")
    states = {
        name: tf.zeros([2, spec.shape[-1]], tf.float32)
        for name, spec in stream.structured_input_signature[1].items() if name != "frames"
    }
    chunks = []
    for start in range(0, 24, 8):
        outputs = stream(frames=tf.constant(frames[:, start : start + 8]), **states)
        states = {name: outputs[name] for name in states}
        chunks.append(outputs["probabilities"].numpy())
    classes = loaded.signatures["classes"](query=tf.constant([""]))["classes"].numpy()[0]
    print(json.dumps({
        "states": state_names,
        "shape": list(whole["probabilities"].shape),
        "labels_shape": list(whole["labels"].shape),
        "stream_difference": float(np.abs(np.concatenate(chunks, 1) - whole["probabilities"].numpy()).max()),
        "classes": [c.decode() for c in classes],
        "outputs": sorted(outputs),
    }))
    """
)


def test_tiny_run_trains_exports_and_reloads_fresh(tmp_path):
    result = run_module(
        "pipelines.video", *TINY, "--runs-dir", str(tmp_path / "runs"), "--export-dir", str(tmp_path / "export")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert 0 <= summary["test_clip_accuracy"] <= 1 and summary["baseline_frame_accuracy"] is not None
    version_dir = tmp_path / "export" / "video" / "1"
    assert summary["export"] == str(version_dir)
    assert (tmp_path / "export" / "models.config").read_text().count("name: 'video'") == 1
    extra = version_dir / "assets.extra"
    assert json.loads((extra / "config.json").read_text())["cell"] == "lstm"
    class_names = (extra / "classes.txt").read_text().split()
    metrics = json.loads((next((tmp_path / "runs" / "video").iterdir()) / "metrics.json").read_text())
    assert metrics["export"]["reload_max_difference"]["stream"] <= 1e-5
    assert "baseline" in metrics and "frame_accuracy_after_first_quarter" in metrics["test"]

    check = subprocess.run(
        [sys.executable, "-I", "-c", FRESH_CHECK, str(version_dir)], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr[-3000:]
    report = json.loads(check.stdout.strip().splitlines()[-1])
    # LSTM h, c; the previous frame's features; its pixels (for the pixel difference)
    assert report["states"] == ["state_0", "state_1", "state_2", "state_3"]
    assert report["outputs"] == ["labels", "probabilities", "state_0", "state_1", "state_2", "state_3"]
    assert report["shape"] == [2, 24, len(class_names)] and report["labels_shape"] == [2, 24]
    assert report["stream_difference"] <= 1e-5
    assert report["classes"] == class_names


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "text.mp4").write_text("not a video")
        (tmp_path / name / "zero.webm").write_bytes(b"")
    for arguments in (
        ("--dataset", str(tmp_path)),
        ("--dataset", str(tmp_path / "missing")),
        ("--cell", "transformer"),
    ):
        result = run_module("pipelines.video", *TINY, *arguments, "--runs-dir", str(tmp_path / "runs"))
        assert result.returncode == 2, (arguments, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr[-2000:]


def _ucf101_style_folder(root, motions=("left", "grow"), num_groups=6, clips=2, num_frames=20):
    """Generated motion clips named as UCF101 names them: v_<Class>_g<NN>_c<NN>.avi (groups recognised)."""
    import numpy as np

    from pipelines.datasets.embedded import shape_motion

    rng = np.random.default_rng(0)
    for motion in motions:
        (root / motion).mkdir(parents=True)
        for group in range(1, num_groups + 1):
            for clip in range(1, clips + 1):
                frames = shape_motion.render_clip(rng, motion, num_frames=num_frames, size=32)
                shape_motion.write_video(root / motion / f"v_{motion}_g{group:02d}_c{clip:02d}.avi", frames)
    return root


def _run_on_folder(tmp_path, *arguments):
    data = _ucf101_style_folder(tmp_path / "clips")
    result = run_module(
        "pipelines.video", *TINY, "--dataset", str(data), "--min-clips-per-epoch", "32",
        "--cache-dir", str(tmp_path / "cache"), "--runs-dir", str(tmp_path / "runs"),
        "--export-dir", str(tmp_path / "export"), *arguments, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "split by UCF101-style names" in result.stderr
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    run_dir = tmp_path / "runs" / "video" / summary["run_dir"].rsplit("/", 1)[-1]
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_grouped_folder_run_reports_per_video_whole_video_and_classical_metrics(tmp_path):
    """In-process (the command line is covered above): UCF101-style names split by group; per-video,
    whole-video and classical metrics; the resolved frame size and pixel difference saved."""
    import csv

    from common import config as config_lib
    from pipelines import video
    from pipelines.configs.video import PRESETS
    from pipelines.training.workspace import Workspace

    data = _ucf101_style_folder(tmp_path / "clips")
    overrides = {"dataset": str(data), "min_clips_per_epoch": "32", "cache_dir": str(tmp_path / "cache")}
    config = config_lib.resolve(PRESETS, "tiny", {**overrides, "baseline_epochs": "0"})
    result = video.train_and_export(config, Workspace(tmp_path / "runs"))
    summary, run_dir = result.summary, result.run_dir
    assert result.export_dir is None and run_dir.parent == tmp_path / "runs" / "video"
    with open(run_dir / "splits.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 24
    splits_of_group = {}
    for row in rows:
        splits_of_group.setdefault(row["group"], set()).add(row["split"])
    assert all(len(found) == 1 for found in splits_of_group.values()) and len(splits_of_group) == 6
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"].startswith("split by UCF101-style names")
    assert metrics["test"]["whole_videos"]["num_videos"] == metrics["videos"]["test"]
    assert 0 <= metrics["test"]["video_accuracy"] <= 1 and summary["test_whole_video_frame_accuracy"] is not None
    assert 0 <= metrics["classical_baseline"]["video_accuracy"] <= 1
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["frame_size"] == 16 and saved["pixel_difference"] is True  # resolved values are saved
    assert saved["color"] == "off" and saved["epochs"] == 1  # grey for real footage; the preset's epochs


@pytest.mark.slow
def test_a_backbone_from_a_weights_file_is_frozen_then_fine_tuned_and_exported(tmp_path):
    from models import backbones

    weights = tmp_path / "backbone.weights.h5"
    backbones.build_backbone("mobilenet_v3_small", 32).save_weights(str(weights))
    run_dir, metrics = _run_on_folder(
        tmp_path, "--encoder", "mobilenet_v3_small", "--frame-size", "32", "--encoder-weights", str(weights),
        "--frozen-epochs", "1", "--fine-tune-fraction", "0.5",
    )  # fmt: skip
    assert metrics["encoder_weights"] == str(weights)
    assert (run_dir / "frozen_encoder" / "history.csv").exists() and metrics["epochs_run"] == 2
    assert metrics["export"]["reload_max_difference"]["stream"] <= 1e-5
    extra = tmp_path / "export" / "video" / "1" / "assets.extra" / "config.json"
    assert json.loads(extra.read_text())["encoder"] == "mobilenet_v3_small"


def test_grouping_errors_are_one_line_and_exit_2_before_tensorflow_starts(tmp_path):
    """Through the command line; the data-level and weights cases raise the same UserError in-process
    (test_groups.py, test_frame_encoders.py), which every entry module turns into one line and exit 2."""
    data = _ucf101_style_folder(tmp_path / "clips", num_groups=3, clips=1, num_frames=8)
    for arguments, message in ((("--group-pattern", r"^v_\w+_g\d+"), "no capture group"),):
        result = run_module(
            "pipelines.video", *TINY, "--dataset", str(data), "--cache-dir", str(tmp_path / "cache"),
            "--runs-dir", str(tmp_path / "runs"), *arguments,
        )  # fmt: skip
        assert result.returncode == 2, (arguments, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (arguments, result.stderr[-2000:])
