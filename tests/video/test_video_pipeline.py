"""``python -m pipelines.video`` end to end: a tiny run that trains, exports and is checked fresh; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import run_module

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
    assert report["states"] == ["state_0", "state_1", "state_2"]  # LSTM h, c; previous frame's features
    assert report["outputs"] == ["labels", "probabilities", "state_0", "state_1", "state_2"]
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
