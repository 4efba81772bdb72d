"""classify-video with ``--server`` against the development server equals the in-process run, frame for frame.

Stub exports (serving/export/stub_export.py) and a generated clip; the server is a real
``python -m serving.rest.server`` on a free port, the classify-video runs call ``serving.classify.video.main``
in this process (the same code as the command line, without another TensorFlow start-up).
"""

from __future__ import annotations

import concurrent.futures
import csv
import json

import cv2
import numpy as np
import pytest

from serving.classify import video as classify_video
from serving.export import stub_export

IMAGE_SIZE = 16  # the stub_exports fixture's input size
CLASS_NAMES = list(stub_export.DEFAULT_CLASS_NAMES)


@pytest.fixture(scope="module")
def starting_server(stub_exports, dev_server):
    """Starts the server in the background, so that its start-up overlaps the in-process runs."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(dev_server, stub_exports)
        yield future
        future.result().stop()


@pytest.fixture(scope="module")
def stub_server(starting_server):
    """The server's base URL."""
    return starting_server.result().url


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """45 frames of a colored square crossing a textured background, changing color every 15 frames."""
    path = tmp_path_factory.mktemp("clip") / "square.mp4"
    width, height = 64, 48
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (width, height))
    background = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8), (0, 0), 2)
    for index in range(45):
        frame = background.copy()
        left = index * (width - 16) // 44
        color = [(0, 0, 255), (0, 255, 0), (255, 0, 0)][index // 15]
        cv2.rectangle(frame, (left, 16), (left + 15, 31), color, -1)
        writer.write(frame)
    writer.release()
    return path


def classify(clip, out, *options) -> tuple[list[str], np.ndarray, dict]:
    """Runs classify-video; returns the per-frame labels, probabilities (frames, classes) and the summary."""
    argv = [str(clip), "--out", str(out), "--batch-size", "8", "--no-annotate", *options]
    assert classify_video.main(argv) == 0
    with open(out / "frames.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["frame"]) for row in rows] == list(range(len(rows)))
    probabilities = np.array([[float(row[name]) for name in CLASS_NAMES] for row in rows])
    return [row["label"] for row in rows], probabilities, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def in_process(starting_server, stub_exports, clip, tmp_path_factory):
    """The in-process run of each model: {model: (labels, probabilities, summary)}."""
    out = tmp_path_factory.mktemp("in_process")
    return {
        model: classify(clip, out / model, "--model", model, "--export-dir", str(stub_exports))
        for model in ("video", "image")
    }


@pytest.mark.parametrize("encoding", [None, "raw"])  # None: the default, PNG through the encoded signatures
@pytest.mark.parametrize("model", ["video", "image"])
def test_frames_through_the_server_equal_in_process(
    model, encoding, in_process, stub_server, stub_exports, clip, tmp_path
):
    local_labels, local_probabilities, local_summary = in_process[model]
    options = ["--encoding", encoding] if encoding else []
    labels, probabilities, summary = classify(
        clip, tmp_path / "out", "--model", model, "--export-dir", str(stub_exports), "--server", stub_server, *options
    )
    assert summary["video"]["frames"] == local_summary["video"]["frames"] == 45
    assert labels == local_labels
    np.testing.assert_allclose(probabilities, local_probabilities, atol=1e-4)
    assert summary["model"] == {"name": model, "version": 1, "server": stub_server}
    assert summary["frames_per_second"] > 0


def test_jpeg_video_frames_go_through_stream_encoded(in_process, stub_server, stub_exports, clip, tmp_path, capsys):
    local_labels, local_probabilities, _ = in_process["video"]
    labels, probabilities, summary = classify(
        clip, tmp_path / "out", "--model", "video", "--export-dir", str(stub_exports), "--server", stub_server,
        "--encoding", "jpeg",
    )  # fmt: skip
    assert "raw frames only" not in capsys.readouterr().err
    assert np.mean(np.array(labels) == np.array(local_labels)) >= 0.99
    np.testing.assert_allclose(probabilities, local_probabilities, atol=0.02)
    assert 0 < np.abs(probabilities - local_probabilities).max()  # lossy: not the raw answers


def test_jpeg_image_frames_run_and_report_fps(in_process, stub_server, stub_exports, clip, tmp_path, capsys):
    # The untrained stub gives every frame the same label, so "labels equal on >= 99 % of frames" holds
    # trivially; the probabilities show that the JPEG frames are decoded the right way round.
    local_labels, local_probabilities, _ = in_process["image"]
    labels, probabilities, summary = classify(
        clip, tmp_path / "out", "--model", "image", "--export-dir", str(stub_exports), "--server", stub_server,
        "--encoding", "jpeg",
    )  # fmt: skip
    assert np.mean(np.array(labels) == np.array(local_labels)) >= 0.99
    np.testing.assert_allclose(probabilities, local_probabilities, atol=0.02)
    assert summary["frames_per_second"] > 0
    assert "frames/s" in capsys.readouterr().out


def test_a_folder_through_the_server_equals_in_process_file_by_file(in_process, stub_server, clip, tmp_path):
    """One server, two videos: each file's rows equal the in-process run (state reset between files)."""
    from serving.classify import folder as classify_folder

    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("first.mp4", "second.mp4"):
        (folder / name).write_bytes(clip.read_bytes())
    out = tmp_path / "out"
    args = classify_video.build_parser().parse_args(
        [str(folder), "--out", str(out), "--batch-size", "8", "--server", stub_server, "--image-size", str(IMAGE_SIZE)]
    )
    assert classify_folder.run(args) == 0
    local_labels, local_probabilities, _ = in_process["video"]
    for name in ("first", "second"):
        with open(out / name / "frames.csv", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["label"] for row in rows] == local_labels
        probabilities = np.array([[float(row[c]) for c in CLASS_NAMES] for row in rows])
        np.testing.assert_allclose(probabilities, local_probabilities, atol=1e-5)
        assert json.loads((out / name / "summary.json").read_text())["model"]["server"] == stub_server


def test_a_live_stream_through_the_server(stub_server, clip, tmp_path):
    from bench.support.mjpeg_server import MjpegServer

    out = tmp_path / "live"
    with MjpegServer(clip, fps=30) as server:
        argv = [server.url, "--out", str(out), "--server", stub_server, "--image-size", str(IMAGE_SIZE)]
        assert classify_video.main([*argv, "--retries", "0"]) == 0
        sent = server.sent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["video"]["live"] and summary["video"]["frames"] == sent == 45
    assert summary["model"]["server"] == stub_server and summary["latency_ms"]["p95"] > 0
