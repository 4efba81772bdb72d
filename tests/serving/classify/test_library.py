"""make classify-library: the Beam job on the FnApiRunner with two worker processes, against the folder mode."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from common import cli
from serving.classify import library
from serving.classify import video as classify_video
from tests.helpers import run_module
from tests.serving.classify.test_classify_video import write_clip

VIDEOS = ["b.mp4", "broken.mp4", "cut.avi", "day 2/a.mp4"]
CLASSIFIED = ["b.mp4", "cut.avi", "day 2/a.mp4"]


def read_rows(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def probabilities(path) -> np.ndarray:
    rows = read_rows(path)
    classes = list(rows[0])[4:]
    return np.array([[float(row[name]) for name in classes] for row in rows])


def without_fps(rows):
    return [{key: value for key, value in row.items() if key != "fps"} for row in rows]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Two clips (one in a sub-folder), an AVI cut off part-way, a file that is not a video, a text file."""
    root = tmp_path_factory.mktemp("archive")
    write_clip(root / "b.mp4", num_frames=20)
    (root / "day 2").mkdir()
    write_clip(root / "day 2" / "a.mp4", num_frames=30)
    full = write_clip(tmp_path_factory.mktemp("full") / "full.avi", num_frames=60, fourcc="XVID")
    data = full.read_bytes()
    (root / "cut.avi").write_bytes(data[: len(data) * 7 // 10])  # the AVI index is at the end: cut it off
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    (root / "notes.txt").write_text("not a video\n")
    return root


def run_job(archive, out, stub_exports, *extra):
    return run_module(
        "serving.classify.library", f"{archive}/**", "--out", str(out), "--export-dir", str(stub_exports),
        "--batch-size", "8", "--direct_num_workers=2", *extra, timeout=180,
    )  # fmt: skip


@pytest.fixture(scope="module")
def job(archive, stub_exports, tmp_path_factory):
    """One run of the job over the archive on two worker processes: (OUT, the finished process)."""
    out = tmp_path_factory.mktemp("library") / "out"
    result = run_job(archive, out, stub_exports)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_same_results_as_the_folder_mode_on_two_worker_processes(job, archive, stub_exports, tmp_path):
    out, result = job
    folder_out = tmp_path / "folder"
    argv = [str(archive), "--export-dir", str(stub_exports), "--out", str(folder_out), "--batch-size", "8"]
    assert classify_video.main(argv) == 1  # the folder mode counts broken.mp4 as failed
    index, folder_index = read_rows(out / "index.csv"), read_rows(folder_out / "index.csv")
    assert [row["file"] for row in index] == VIDEOS
    assert without_fps(index) == without_fps(folder_index)
    for file in CLASSIFIED:
        mine, theirs = out / file, folder_out / file.rsplit(".", 1)[0]  # the folder mode drops the extension
        library_rows, folder_rows = read_rows(mine / "frames.csv"), read_rows(theirs / "frames.csv")
        assert [row["frame"] for row in library_rows] == [row["frame"] for row in folder_rows]
        assert [row["label"] for row in library_rows] == [row["label"] for row in folder_rows]
        np.testing.assert_allclose(probabilities(mine / "frames.csv"), probabilities(theirs / "frames.csv"), atol=1e-6)
        summary = json.loads((mine / "summary.json").read_text())
        assert summary["segments"] == json.loads((theirs / "summary.json").read_text())["segments"]
        assert summary["outputs"]["frames_csv"] == str(out / file / "frames.csv")
        assert not (out / file / "timeline.png").exists()  # an option (--timeline)
    failures = {row["file"]: row["reason"] for row in read_rows(out / "failures.csv")}
    assert sorted(failures) == ["broken.mp4", "cut.avi"]
    assert "cannot read" in failures["broken.mp4"] and "decoding stopped after" in failures["cut.avi"]
    assert "classified 3 video(s)" in result.stdout and "skipped 0 already complete; 2 failure(s)" in result.stdout


def test_the_model_is_loaded_once_per_worker_process_and_the_log_is_the_projects(job):
    out, result = job
    workers = [json.loads((out / file / "summary.json").read_text())["worker"] for file in CLASSIFIED]
    assert len({worker["pid"] for worker in workers}) == 2  # two worker processes shared the videos
    assert all(worker["model_loads"] == 1 for worker in workers)
    assert result.stdout.count("model v1 loaded") == 2
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(("failed: broken.mp4", "warning: ")) for line in lines), result.stderr
    for noise in ("Discarding unparseable", "semi_persistent_directory", "apitools", "Traceback", "INFO"):
        assert noise not in result.stdout + result.stderr


def test_a_rerun_after_an_interrupted_job_finishes_only_the_rest(job, archive, stub_exports, dev_server, tmp_path):
    """The rerun goes through TF Serving's REST API (the development server) and draws the timelines:
    the videos it classifies get the same answers, the one that was complete is left as it was."""
    first, _ = job
    out = tmp_path / "out"
    shutil.copytree(first, out)
    # What a job killed part-way leaves: one video complete, one cut off while it was being classified
    # (frames.csv half written, no summary.json), one not started; no index.csv or failures.csv yet.
    kept = (out / "cut.avi" / "summary.json").stat().st_mtime_ns
    (out / "day 2" / "a.mp4" / "summary.json").unlink()
    frames_csv = out / "day 2" / "a.mp4" / "frames.csv"
    frames_csv.write_text(frames_csv.read_text()[:200])
    shutil.rmtree(out / "b.mp4")
    (out / "index.csv").unlink()
    (out / "failures.csv").unlink()
    server = dev_server(stub_exports)
    try:
        result = run_job(archive, out, stub_exports, "--server", server.url, "--timeline")
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "classified 2 video(s): 50 frames" in result.stdout
    assert "skipped 1 already complete; 2 failure(s)" in result.stdout
    assert (out / "cut.avi" / "summary.json").stat().st_mtime_ns == kept  # complete: left as it was
    assert not (out / "cut.avi" / "timeline.png").exists()
    for file in ("b.mp4", "day 2/a.mp4"):
        np.testing.assert_allclose(
            probabilities(out / file / "frames.csv"), probabilities(first / file / "frames.csv"), atol=1e-5
        )
        assert json.loads((out / file / "summary.json").read_text())["model"]["server"] == server.url
        assert (out / file / "timeline.png").stat().st_size > 0
    assert without_fps(read_rows(out / "index.csv")) == without_fps(read_rows(first / "index.csv"))
    assert read_rows(out / "failures.csv") == read_rows(first / "failures.csv")


def unreadable_export(stub_exports, tmp_path, damage):
    root = tmp_path / "export"
    shutil.copytree(stub_exports, root)
    version = root / "video" / "1"
    if damage == "graph":
        (version / "saved_model.pb").write_bytes(b"not a SavedModel")
    else:
        for shard in (version / "variables").glob("variables.data-*"):
            shard.unlink()
    return root


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_match", "no file matches"),
        ("no_video", "matches 1 file(s) but no video"),
        ("out_is_a_file", "cannot write to"),
        ("no_model", "no video model exported"),
        ("unreadable_model", "is not a SavedModel"),
        ("model_without_its_variables", "holds 0 of its 1 data shard(s)"),
        ("unknown_option", "Discarding unparseable args: ['--no_such_option=1']"),
        ("bad_value", "argument --direct_num_workers: invalid int value: 'two'"),
        ("unknown_runner", "Unexpected pipeline runner: NoSuchRunner"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(case, message, archive, stub_exports, tmp_path, capsys):
    pattern, out, export, beam = f"{archive}/**", tmp_path / "out", stub_exports, ["--direct_num_workers=2"]
    if case == "no_match":
        pattern = f"{tmp_path}/nothing/*.mp4"
    elif case == "no_video":
        pattern = f"{archive}/*.txt"
    elif case == "out_is_a_file":
        out.write_text("a file, not a folder\n")
    elif case == "no_model":
        export = tmp_path / "empty_export"
        export.mkdir()
    elif case == "unreadable_model":
        export = unreadable_export(stub_exports, tmp_path, "graph")
    elif case == "model_without_its_variables":
        export = unreadable_export(stub_exports, tmp_path, "variables")
    elif case == "unknown_option":
        beam = ["--no_such_option=1"]
    elif case == "bad_value":
        beam = ["--direct_num_workers=two"]
    elif case == "unknown_runner":
        beam = ["--runner=NoSuchRunner"]
    argv = [pattern, "--out", str(out / "job"), "--export-dir", str(export), *beam]
    assert cli.run(library.main, argv) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr, stderr


def test_bad_input_from_the_command_line_before_the_job_starts(archive, stub_exports, tmp_path):
    result = run_module(
        "serving.classify.library", f"{tmp_path}/*.mp4", "--out", str(tmp_path / "out"),
        "--export-dir", str(stub_exports), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no file matches"), result.stderr
