"""classify-video end to end on generated clips and stub exports (serving/export/stub_export.py)."""

from __future__ import annotations

import csv
import json
import shutil
import struct

import cv2
import numpy as np
import pytest

from common.errors import UserError
from serving.classify import frame_classifiers, runner, video_decode, video_page, video_reader
from serving.classify import video as classify_video
from serving.classify.annotated_writer import AnnotatedWriter
from serving.classify.outputs import Segments, Timeline
from serving.export import stub_export
from tests.helpers import SHARED_DATA, run_module

IMAGE_SIZE = 16  # the stub_exports fixture's input size


def write_clip(path, num_frames=30, width=65, height=49, fps=12.0, fourcc="mp4v", grayscale=False):
    """A square moving left to right on a dark background (odd size on purpose)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height), not grayscale)
    assert writer.isOpened()
    for index in range(num_frames):
        frame = np.full((height, width, 3), 30, np.uint8)
        left = int(index * (width - 12) / max(num_frames - 1, 1))
        cv2.rectangle(frame, (left, height // 3), (left + 11, height // 3 + 11), (40, 200, 240), -1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if grayscale else frame)
    writer.release()
    return path


def count_frames(path) -> tuple[int, float, int, int]:
    capture = cv2.VideoCapture(str(path))
    fps, width, height = capture.get(cv2.CAP_PROP_FPS), capture.get(3), capture.get(4)
    count = 0
    while capture.read()[0]:
        count += 1
    return count, fps, int(width), int(height)


def retime_mp4(path, durations: list[tuple[int, float]]) -> None:
    """Makes an OpenCV-written MP4 variable-frame-rate: rewrites its one ``stts`` (time-to-sample) box
    as ``(frame count, duration as a multiple of the original frame duration)`` runs. The moov box
    follows the media data in these files, so growing it moves no sample offsets."""
    data = bytearray(path.read_bytes())
    containers, ancestors = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}, []
    position, end = 0, len(data)
    while position < end:
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"stts":
            (delta,) = struct.unpack(">I", data[position + 20 : position + 24])
            entries = b"".join(struct.pack(">II", count, round(delta * scale)) for count, scale in durations)
            box = struct.pack(">I4sII", 16 + len(entries), b"stts", 0, len(durations)) + entries
            data[position : position + size] = box
            for ancestor in ancestors:  # every box around it grows by the same amount
                (ancestor_size,) = struct.unpack(">I", data[ancestor : ancestor + 4])
                data[ancestor : ancestor + 4] = struct.pack(">I", ancestor_size + len(box) - size)
            path.write_bytes(bytes(data))
            return
        if kind in containers:
            ancestors.append(position)
            position += 8
        else:
            position += size
    raise AssertionError(f"no stts box in {path}")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "moving square.mp4")


def read_rows(out):
    with open(out / "frames.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_video_model_writes_every_output(stub_exports, clip, tmp_path):
    out = tmp_path / "out"
    result = run_module(
        "serving.classify.video", str(clip), "--model", "video", "--export-dir", str(stub_exports),
        "--out", str(out), "--batch-size", "7",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    decoded, fps, width, height = count_frames(clip)
    rows = read_rows(out)
    assert [int(row["frame"]) for row in rows] == list(range(decoded))
    assert list(rows[0])[:4] == ["frame", "time_s", "label", "score"]
    assert list(rows[0])[4:] == list(stub_export.DEFAULT_CLASS_NAMES)
    times = [float(row["time_s"]) for row in rows]
    assert times == sorted(times) and times[1] == pytest.approx(1 / fps, abs=1e-3)
    for row in rows:
        probabilities = [float(row[name]) for name in stub_export.DEFAULT_CLASS_NAMES]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert float(row["score"]) == pytest.approx(max(probabilities), abs=1e-6)
    assert not (out / "annotated.mp4").exists()  # opt-in (--annotate): the default re-encodes nothing
    # Browsers do not play MPEG-4 Part 2, so the page gets a small H.264 preview, every frame, no text
    preview_frames, preview_fps, preview_width, preview_height = count_frames(out / "preview.mp4")
    assert preview_frames == decoded and preview_fps == pytest.approx(fps)
    assert (preview_width, preview_height) == (width + width % 2, height + height % 2)
    assert video_page.browser_plays(out / "preview.mp4", video_reader.probe(out / "preview.mp4").codec)
    assert (out / "timeline.png").stat().st_size > 0
    assert 'src="preview.mp4"' in (out / "index.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["video"] == {
        "path": str(clip.resolve()),
        "live": False,
        "codec": "FMP4",
        "width": width,
        "height": height,
        "fps": pytest.approx(fps),
        "frames": decoded,
        "frames_in_header": decoded,
        "complete": True,
    }
    assert summary["model"]["name"] == "video" and summary["model"]["version"] == 1
    assert summary["model"]["path"] == str((stub_exports / "video" / "1").resolve())
    assert summary["frames_per_second"] > 0
    segments = summary["segments"]
    assert segments[0]["first_frame"] == 0 and segments[-1]["last_frame"] == decoded - 1
    assert sum(s["last_frame"] - s["first_frame"] + 1 for s in segments) == decoded
    assert "label segment(s)" in result.stdout
    assert f"FMP4, {width}x{height}, {fps:.2f} fps, {decoded} frames in its header" in result.stdout


def test_a_pinned_version_and_a_damaged_export(stub_exports, tmp_path):
    assert frame_classifiers.LocalClassifier("video", stub_exports, version=1).version == 1
    with pytest.raises(UserError, match="is not a complete export"):
        frame_classifiers.LocalClassifier("video", stub_exports, version=2)
    damaged = tmp_path / "export"
    shutil.copytree(stub_exports / "video", damaged / "video")
    (damaged / "video" / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    with pytest.raises(UserError, match=r"cannot load the video model from .*video/1: "):
        frame_classifiers.LocalClassifier("video", damaged)


def test_stream_across_batches_equals_one_whole_clip_call(stub_exports, clip):
    classifier = frame_classifiers.LocalClassifier("video", stub_exports)
    reader = video_reader.VideoReader(clip, classifier.image_size, batch_size=4)
    chunks = list(reader)
    streamed = np.concatenate([classifier(chunk.pixels) for chunk in chunks])
    pixels = np.concatenate([chunk.pixels for chunk in chunks])  # (time, 16, 16, 3)
    assert pixels.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE, 3) and pixels.dtype == np.uint8
    whole = classifier._model.signatures["serving_default"](frames=pixels[np.newaxis])["probabilities"]
    np.testing.assert_allclose(streamed, whole.numpy()[0], atol=1e-5)
    classifier.reset()
    np.testing.assert_allclose(classifier(pixels[:4]), streamed[:4], atol=1e-6)


def test_image_model_on_truncated_grayscale_avi(stub_exports, tmp_path):
    full = write_clip(tmp_path / "full.avi", num_frames=60, fourcc="XVID", grayscale=True)
    data = full.read_bytes()
    truncated = tmp_path / "cut.avi"
    truncated.write_bytes(data[: len(data) * 7 // 10])  # the AVI index is at the end: cut it off
    decoded = count_frames(truncated)[0]
    assert 0 < decoded < 60
    out = tmp_path / "out"
    result = run_module(
        "serving.classify.video", str(truncated), "--model", "image", "--export-dir", str(stub_exports),
        "--out", str(out), "--no-annotate", "--smooth", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning:" in result.stderr and "Traceback" not in result.stderr
    assert len(read_rows(out)) == decoded
    assert not (out / "annotated.mp4").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["video"]["complete"] is False and summary["video"]["frames"] == decoded
    assert summary["model"]["name"] == "image" and summary["smooth"] == 3


@pytest.mark.parametrize("case", ["missing", "text", "empty", "directory", "no_model", "threads"])
def test_bad_input_exits_2_with_one_line(case, tmp_path, clip):
    video, export_dir, extra = tmp_path / "clip.mp4", tmp_path / "export", []
    if case == "text":
        video.write_text("not a video\n" * 100)
    elif case == "empty":
        video.write_bytes(b"")
    elif case == "directory":
        video = tmp_path
    elif case == "no_model":
        video = clip
    elif case == "threads":
        video, extra = clip, ["--threads", "-1"]
    result = run_module(
        "serving.classify.video", str(video), "--export-dir", str(export_dir), "--out", str(tmp_path / "o"), *extra,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_reader_handles_grayscale_odd_sizes_and_large_frames(tmp_path):
    clip = write_clip(tmp_path / "gray.avi", num_frames=9, width=1921, height=1081, fourcc="XVID", grayscale=True)
    reader = video_reader.VideoReader(clip, 16, batch_size=8, keep_originals=True)
    per_chunk = video_reader.FRAME_BYTES_PER_BATCH // (1921 * 1081 * 3)  # large frames: smaller chunks
    assert reader.batch_size == per_chunk < 8
    chunks = list(reader)
    assert [chunk.start for chunk in chunks] == list(range(0, 9, per_chunk))
    assert sum(len(chunk.pixels) for chunk in chunks) == reader.frames_read == 9
    assert chunks[0].pixels.shape == (per_chunk, 16, 16, 3)
    assert video_decode.to_bgr(chunks[0].originals[0]).shape == (reader.info.height, reader.info.width, 3)
    assert reader.warning is None


def test_one_decoder_thread_decodes_the_same_frames(clip):
    default = np.concatenate([chunk.pixels for chunk in video_reader.VideoReader(clip, 16, batch_size=8)])
    single = video_reader.VideoReader(clip, 16, batch_size=8, decoder_threads=1)
    np.testing.assert_array_equal(np.concatenate([chunk.pixels for chunk in single]), default)


@pytest.mark.parametrize("size", [32, 48])
def test_shrink_is_antialiased_like_the_models_resize(size):
    """A 1-pixel checkerboard must shrink to flat grey (aliasing would leave stripes or moire)."""
    import tensorflow as tf

    rows, cols = np.indices((360, 640))
    board = np.where((rows + cols) % 2 == 0, 230, 20).astype(np.uint8)
    frame = np.stack([board, np.roll(board, 1, axis=1), np.full_like(board, 90)], axis=-1)
    frame[100:260, 200:440] = (40, 180, 250)  # and an object, whose edges must stay where they are
    shrunk = video_reader.shrink(frame, size).astype(np.float32)
    reference = tf.image.resize(frame[np.newaxis], (size, size), antialias=True).numpy()[0]
    assert shrunk.shape == (size, size, 3)
    assert np.abs(shrunk - reference).mean() < 2.0
    assert np.abs(shrunk[:4, :4, :2] - 125).max() < 6  # the checkerboard became grey
    assert video_reader.shrink(frame[:20, :20], size).shape == (size, size, 3)  # enlarging works too


def test_timeline_stays_bounded_and_segments_cover_every_frame():
    timeline = Timeline(num_classes=2, max_points=8)
    for start in range(0, 1000, 10):
        timeline.add(np.arange(start, start + 10) / 10.0, np.tile([[0.25, 0.75]], (10, 1)))
    assert len(timeline.times) < 16 and timeline.stride > 1
    np.testing.assert_allclose(timeline.values[0], [0.25, 0.75])
    segments = Segments()
    segments.add(0, ["a", "a", "b"], np.arange(3.0))
    segments.add(3, ["b", "a"], np.arange(3.0, 5.0))
    assert [(s["label"], s["first_frame"], s["last_frame"]) for s in segments.items] == [
        ("a", 0, 1),
        ("b", 2, 3),
        ("a", 4, 4),
    ]


@pytest.mark.parametrize(
    "scale, size, codec", [(1.0, (66, 50), "h264"), (0.5, (32, 24), "h264"), (1.0, (66, 50), "mpeg4")]
)
def test_annotated_writer_keeps_every_frame_at_the_asked_size(tmp_path, scale, size, codec):
    frames = [np.full((49, 65, 3), 200, np.uint8) for _ in range(10)]
    writer = AnnotatedWriter(tmp_path / "a.mp4", 65, 49, 10.0, scale=scale, codec=codec)
    assert writer.codec == codec
    writer.put(frames[:4], ["circle 0.90"] * 4)
    writer.put(frames[4:], ["square 0.80"] * 6)
    writer.close()
    assert writer.frames_written == 10
    assert count_frames(tmp_path / "a.mp4") == (10, 10.0, *size)
    capture = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    first = capture.read()[1]
    assert first[1:4, 1:4].mean() < 120 < first[-4:, -4:].mean()  # the dark label box, top left only
    with pytest.raises(UserError, match="annotate-scale"):
        AnnotatedWriter(tmp_path / "b.mp4", 65, 49, 10.0, scale=1.5)


def test_stage_costs_measure_every_stage_and_bound_the_speed(stub_exports, clip):
    from bench.support import stage_costs

    threads = cv2.getNumThreads()
    try:
        result = stage_costs.measure(clip, stub_exports, num_frames=20)
    finally:
        cv2.setNumThreads(threads)
    costs = result["cpu_ms_per_frame"]
    assert set(costs) == {"decode", "draw_and_encode", "resize_video", "infer_video", "resize_image", "infer_image"}
    assert result["frames"] == 20 and all(value > 0 for value in costs.values())
    plain = stage_costs.ceiling_fps(costs, "video", annotate=False, cores=2)
    assert plain == pytest.approx(2000 / (costs["decode"] + costs["resize_video"] + costs["infer_video"]))
    assert stage_costs.ceiling_fps(costs, "video", annotate=True, cores=2) < plain


REAL_VIDEOS = ["v_ApplyEyeMakeup_g01_c01.avi", "hmdb51_drink.mp4", "slow_traffic_small.mp4"]


@pytest.mark.parametrize("name", [*REAL_VIDEOS, "generated 1080p"])
def test_real_codecs_and_1080p_give_one_row_and_one_annotated_frame_per_frame(name, stub_exports, tmp_path):
    """XviD AVI, MPEG-4 Part 2 MP4, H.264 MP4 (../shared/data/videos) and a 1920x1080 clip."""
    if name in REAL_VIDEOS:
        video = SHARED_DATA / "videos" / name
        if not video.is_file():
            pytest.skip(f"real sample video not found: {video}")
    else:
        video = write_clip(tmp_path / "hd.mp4", num_frames=12, width=1920, height=1080, fps=25.0)
    out = tmp_path / "out"
    arguments = [str(video), "--model", "video", "--export-dir", str(stub_exports), "--out", str(out), "--annotate"]
    summary = runner.classify(classify_video.build_parser().parse_args(arguments))
    decoded, fps, width, height = count_frames(video)
    assert summary["video"]["frames"] == decoded > 0 and summary["video"]["complete"]
    assert (summary["video"]["width"], summary["video"]["height"]) == (width, height)
    assert [int(row["frame"]) for row in read_rows(out)] == list(range(decoded))
    assert count_frames(out / "annotated.mp4")[:2] == (decoded, pytest.approx(fps, rel=1e-5))
    annotated = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert video_reader.probe(out / "annotated.mp4").codec.lower() in ("h264", "avc1")  # browsers play it
    assert (annotated.get(cv2.CAP_PROP_FRAME_WIDTH), annotated.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (
        width + width % 2,
        height + height % 2,
    )


def test_variable_frame_rate_and_a_header_that_lies(stub_exports, tmp_path):
    """Each row's time is its frame's own timestamp; the frame count in the header is not trusted."""
    video = write_clip(tmp_path / "vfr.mp4", num_frames=30, fps=10.0)
    retime_mp4(video, [(10, 2.0), (20, 0.5)])  # 10 frames at 5 fps, then 20 at 20 fps (same 3 s in all)
    expected = [0.2 * index for index in range(10)] + [2.0 + 0.05 * index for index in range(20)]
    out = tmp_path / "out"
    arguments = [str(video), "--model", "video", "--export-dir", str(stub_exports), "--out", str(out)]
    summary = runner.classify(classify_video.build_parser().parse_args(arguments + ["--no-annotate"]))
    times = [float(row["time_s"]) for row in read_rows(out)]
    np.testing.assert_allclose(times, expected, atol=2e-3)
    assert summary["video"]["frames"] == 30 and summary["video"]["complete"]

    avi = write_clip(tmp_path / "lying.avi", num_frames=30, fourcc="XVID")
    data = bytearray(avi.read_bytes())
    for tag, offset in ((b"avih", 24), (b"strh", 40)):  # dwTotalFrames, dwLength: say 12 frames, not 30
        at = data.index(tag) + offset
        assert struct.unpack("<I", data[at : at + 4]) == (30,)
        data[at : at + 4] = struct.pack("<I", 12)
    avi.write_bytes(bytes(data))
    reader = video_reader.VideoReader(avi, IMAGE_SIZE, batch_size=8)
    assert reader.info.frame_count == 12  # what the header now says
    assert sum(len(chunk.pixels) for chunk in reader) == reader.frames_read == 30
    assert reader.warning is None


def test_frame_clock_starts_at_zero_and_always_increases():
    clock = video_reader.FrameClock(fps=25.0)
    # UCF101's AVIs as OpenCV reports them: one period late, the last time repeated; then a gap.
    assert [round(clock(ms), 3) for ms in (40.0, 80.0, 120.0, 120.0, float("nan"), 400.0)] == [
        0.0, 0.04, 0.08, 0.12, 0.16, 0.36,
    ]  # fmt: skip
    no_times = video_reader.FrameClock(fps=10.0)
    assert [no_times(0.0) for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])


def test_real_avi_times_start_at_zero_one_period_apart():
    video = SHARED_DATA / "videos" / "v_ApplyEyeMakeup_g01_c01.avi"
    if not video.is_file():
        pytest.skip(f"real sample video not found: {video}")
    times = np.concatenate([chunk.times_s for chunk in video_reader.VideoReader(video, IMAGE_SIZE, batch_size=64)])
    np.testing.assert_allclose(times, np.arange(len(times)) / 25.0, atol=1e-6)


def test_pyav_planes_match_opencv_frames(clip, tmp_path):
    """The default decoder (PyAV's 4:2:0 planes, shrunk then converted) gives the model what the
    OpenCV path (full-size BGR, then shrunk) does, within a couple of grey levels, at the same times."""
    even = write_clip(tmp_path / "even.mp4", width=96, height=64)
    for video in (clip, even):
        chunks = {
            decoder: list(video_reader.VideoReader(video, IMAGE_SIZE, batch_size=8, decoder=decoder))
            for decoder in ("pyav", "opencv")
        }
        pixels = {decoder: np.concatenate([c.pixels for c in chunks[decoder]]).astype(int) for decoder in chunks}
        assert pixels["pyav"].shape == pixels["opencv"].shape
        difference = np.abs(pixels["pyav"] - pixels["opencv"])
        assert difference.mean() < 2.0 and np.percentile(difference, 99) <= 8
        times = {decoder: np.concatenate([c.times_s for c in chunks[decoder]]) for decoder in chunks}
        np.testing.assert_allclose(times["pyav"], times["opencv"], atol=1e-3)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_annotated_frames_from_planes_look_like_those_from_bgr(tmp_path, scale):
    """The writer draws on the decoder's 4:2:0 planes (no BGR round trip): the video it writes looks
    like the one written from the same frames in BGR, label box included, within a few grey levels."""
    video = write_clip(tmp_path / "even.mp4", num_frames=12, width=96, height=64)
    planes = [frame for _, frame in video_decode.decode_file(video)]
    assert all(isinstance(frame, video_decode.Planes) for frame in planes)
    texts = [f"square {index / 12:.2f}" for index in range(12)]
    decoded = {}
    for name, frames in (("planes", planes), ("bgr", [video_decode.to_bgr(frame) for frame in planes])):
        writer = AnnotatedWriter(tmp_path / f"{name}.mp4", 96, 64, 12.0, scale=scale)
        writer.put(frames[:5], texts[:5])
        writer.put(frames[5:], texts[5:])
        writer.close()
        assert writer.frames_written == 12
        capture = cv2.VideoCapture(str(tmp_path / f"{name}.mp4"))
        decoded[name] = np.stack([capture.read()[1] for _ in range(12)]).astype(int)
    assert decoded["planes"].shape == (12, round(64 * scale), round(96 * scale), 3)
    difference = np.abs(decoded["planes"] - decoded["bgr"])
    assert difference.mean() < 2.0 and np.percentile(difference, 99) <= 12
    corner = decoded["planes"][:, 1:4, 1:4]  # inside the label box: black (the background is grey 30)
    assert corner.max() < 12 and np.ptp(corner, axis=-1).max() <= 6
    label = decoded["planes"][:, : round(24 * scale), : round(60 * scale)]  # white text in it, no tint
    assert (label.min(axis=-1) > 200).sum(axis=(1, 2)).min() >= 3
