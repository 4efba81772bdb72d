"""classify-video on a folder of videos and on a live stream (an MJPEG server on loopback, real time)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import threading
import time

import cv2
import numpy as np
import pytest

from bench.support.mjpeg_server import MjpegServer
from serving.classify import runner
from serving.classify import video as classify_video
from tests.helpers import run_module


def write_clip(path, num_frames=24, width=64, height=48, fps=15.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for index in range(num_frames):
        frame = np.full((height, width, 3), 40, np.uint8)
        cv2.circle(frame, (4 + index * 2, height // 2), 6, (30, 220, 250), -1)
        writer.write(frame)
    writer.release()
    return path


def read_rows(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two clips (one in a sub-folder), a file that is not a video, and a text file."""
    root = tmp_path_factory.mktemp("recordings")
    write_clip(root / "b.mp4", num_frames=20)
    (root / "day 2").mkdir()
    write_clip(root / "day 2" / "a.mp4", num_frames=30)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    (root / "notes.txt").write_text("not a video\n")
    return root


def test_folder_one_model_load_every_video_and_a_broken_file_counted(stub_exports, folder, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [str(folder), "--export-dir", str(stub_exports), "--out", str(out), "--batch-size", "8"]
    assert classify_video.main(argv) == 1  # one file failed
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.mp4" in errors[0]
    assert "2 of 3 video(s) classified, 1 failed: 50 frames in " in captured.out  # and the rate over the folder
    index = read_rows(out / "index.csv")
    assert [row["file"] for row in index] == ["b.mp4", "broken.mp4", "day 2/a.mp4"]
    assert [row["frames"] for row in index] == ["20", "0", "30"]
    assert index[1]["error"] and not index[0]["error"] and not index[2]["error"]
    for row, name in ((index[0], "b"), (index[2], "day 2/a")):
        assert float(row["fps"]) > 0 and int(row["segments"]) >= 1
        frames = read_rows(out / name / "frames.csv")
        assert [int(frame["frame"]) for frame in frames] == list(range(int(row["frames"])))
        labels = [frame["label"] for frame in frames]
        assert row["main_label"] == max(set(labels), key=labels.count)
        assert (out / name / "index.html").is_file() and (out / name / "summary.json").is_file()
    page = (out / "index.html").read_text()
    assert 'href="b/index.html"' in page and 'href="day 2/index.html"' not in page
    assert 'href="day 2/a/index.html"' in page.replace("&#x27;", "'")


def test_folder_state_starts_afresh_for_each_video(stub_exports, folder, tmp_path):
    """The same clip twice in a folder gives the same rows twice: the recurrent state is reset per file."""
    twins = tmp_path / "twins"
    twins.mkdir()
    shutil.copy(folder / "b.mp4", twins / "one.mp4")
    shutil.copy(folder / "b.mp4", twins / "two.mp4")
    out = tmp_path / "out"
    assert classify_video.main([str(twins), "--export-dir", str(stub_exports), "--out", str(out)]) == 0
    assert read_rows(out / "one" / "frames.csv") == read_rows(out / "two" / "frames.csv")


def live_args(url, stub_exports, out, *extra):
    argv = [url, "--export-dir", str(stub_exports), "--out", str(out), "--retries", "1", "--retry-delay", "0.1"]
    return classify_video.build_parser().parse_args([*argv, *extra])


def test_live_stream_at_real_time_every_frame_classified_as_it_arrives(stub_exports, folder, tmp_path, capsys):
    out = tmp_path / "live"
    with MjpegServer(folder / "day 2" / "a.mp4", fps=30) as server:
        summary = runner.classify(live_args(server.url, stub_exports, out))
        sent = server.sent
    assert sent == 30
    rows = read_rows(out / "frames.csv")
    assert [int(row["frame"]) for row in rows] == list(range(sent))  # no frame skipped
    times = [float(row["time_s"]) for row in rows]
    assert times[0] == 0 and times == sorted(times) and times[-1] > 0.5  # arrival times, 1/30 s apart
    assert summary["video"]["live"] and summary["video"]["frames"] == sent
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] <= summary["latency_ms"]["max"]
    assert not summary["video"]["complete"]  # the stream ended and did not come back
    assert "did not come back after 1 retries" in capsys.readouterr().err
    assert "A live source" in (out / "index.html").read_text() and (out / "timeline.png").stat().st_size > 0


def test_sigterm_ends_a_live_run_cleanly_with_complete_outputs(stub_exports, folder, tmp_path):
    out = tmp_path / "live"
    clip = write_clip(tmp_path / "long.mp4", num_frames=300)  # 10 s at 30 fps

    def stop_when_rows_appear():
        while not (out / "frames.csv").exists() or len(read_rows(out / "frames.csv")) < 5:
            time.sleep(0.05)  # rows are flushed as they are decided: they show up while the stream runs
        os.kill(os.getpid(), signal.SIGTERM)

    with MjpegServer(clip, fps=30) as server:
        stopper = threading.Thread(target=stop_when_rows_appear, daemon=True)
        stopper.start()
        summary = runner.classify(live_args(server.url, stub_exports, out))
        stopper.join(timeout=5)
    assert summary["stopped_by"] == "SIGTERM" and 5 <= summary["video"]["frames"] < 300
    rows = read_rows(out / "frames.csv")
    assert [int(row["frame"]) for row in rows] == list(range(summary["video"]["frames"]))
    assert json.loads((out / "summary.json").read_text())["video"]["frames"] == len(rows)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


@pytest.mark.parametrize(
    "video, message",
    [
        ("http://127.0.0.1:9/stream.mjpg", "cannot open the stream http://127.0.0.1:9/stream.mjpg"),
        ("udp://127.0.0.1:9?timeout=500000", "cannot open the stream udp://"),
        ("97", "camera 97 does not exist"),
        ("EMPTY", "is empty"),
        ("NO_VIDEOS", "but no videos"),
    ],
)
def test_bad_sources_exit_2_with_one_line(video, message, tmp_path, stub_exports):
    if video in ("EMPTY", "NO_VIDEOS"):
        folder = tmp_path / video.lower()
        folder.mkdir()
        if video == "NO_VIDEOS":
            (folder / "readme.txt").write_text("hello\n")
        video = str(folder)
    started = time.monotonic()
    result = run_module("serving.classify.video", video, "--export-dir", str(stub_exports), timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert time.monotonic() - started < 30  # before the model loads
