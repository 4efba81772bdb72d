"""The classify-video page (serving/classify/video_page.py) in headless Chromium: it plays, seeks, stays offline."""

from __future__ import annotations

import numpy as np
import pytest

from common import browser
from serving.classify import video_page, video_page_check
from serving.classify.annotated_writer import AnnotatedWriter, h264_available
from serving.classify.outputs import Rows, Segments, Timeline

CLASSES = ["circle", "square", "triangle"]
RUNS = [(0, 10), (1, 15), (2, 11), (0, 6)]  # (class, frames): four segments, the first label twice
FPS = 12.0

needs_browser = pytest.mark.skipif(browser.find_browser() is None, reason="no Chromium (apt-get install chromium)")


def write_result(out, video_src):
    """frames.csv, segments and timeline for RUNS, and the page over them."""
    out.mkdir(parents=True, exist_ok=True)
    labels = np.concatenate([np.full(count, label) for label, count in RUNS])
    probabilities = np.full((len(labels), len(CLASSES)), 0.1, np.float32)
    probabilities[np.arange(len(labels)), labels] = 0.8
    times = np.arange(len(labels)) / FPS
    segments, timeline = Segments(), Timeline(len(CLASSES))
    with open(out / "frames.csv", "w", encoding="utf-8", newline="") as handle:
        decided, _ = Rows(handle, CLASSES).write(0, times, probabilities)
    segments.add(0, decided, times)
    timeline.add(times, probabilities)
    timeline.flush()
    video_page.write_page(out, "clip", CLASSES, segments.items, timeline.times, np.array(timeline.values), video_src)
    return segments.items


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory):
    if not h264_available():
        pytest.skip("PyAV with libx264 is not installed")
    path = tmp_path_factory.mktemp("videos") / "a clip.mp4"  # a space: the page's URL must quote it
    frames = sum(count for _, count in RUNS)
    writer = AnnotatedWriter(path, 64, 48, FPS)
    writer.put([np.full((48, 64, 3), 20 * (index % 12), np.uint8) for index in range(frames)])
    writer.close()
    return path


@needs_browser
def test_page_plays_the_source_in_place_and_segments_seek_to_their_label(h264_clip, tmp_path):
    out = tmp_path / "out"
    segments = write_result(out, video_page.relative_url(h264_clip, out))
    result = video_page_check.check_page(out / "index.html")
    assert result.problems == [], result
    assert result.has_video and result.loaded
    assert [s["frame"] for s in result.segments] == [segment["first_frame"] for segment in segments]
    assert [s["shown"] for s in result.segments] == ["circle", "square", "triangle", "circle"]
    assert result.network == []
    assert sorted(path.name for path in out.iterdir()) == ["frames.csv", "index.html"]  # the video is not copied


@needs_browser
def test_the_check_fails_a_page_whose_video_is_missing(tmp_path):
    out = tmp_path / "out"
    write_result(out, "missing.mp4")
    result = video_page_check.check_page(out / "index.html")
    assert "the video did not load" in result.problems


def test_browser_playable_codecs_and_containers():
    assert video_page.browser_plays("a.mp4", "avc1") and video_page.browser_plays("a.webm", "VP90")
    assert not video_page.browser_plays("a.mp4", "FMP4")  # MPEG-4 Part 2: needs a preview
    assert not video_page.browser_plays("a.avi", "H264")  # AVI: browsers do not play the container
    assert video_page.relative_url("/data/x y/clip.mp4", "/runs/out") == "../../data/x%20y/clip.mp4"
