"""Video sources: the OpenCV folder reader (sampling, RGB order, bad files) and the embedded builder."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from common.errors import UserError
from pipelines.configs.video import VideoDataConfig
from pipelines.datasets import video_files, video_sources
from pipelines.datasets.embedded import moving_shapes, shape_motion


def _numbered_video(path, num_frames=20, size=16):
    """Frame i is a flat pure-red image of brightness 10 * i: easy to identify after decoding."""
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    frames[..., 0] = (np.arange(num_frames) * 10)[:, None, None]
    return shape_motion.write_video(path, frames)  # .avi: MJPG, close to lossless


def test_read_clip_samples_at_stride_in_rgb_and_pads_short_videos(tmp_path):
    path = _numbered_video(tmp_path / "numbered.avi")
    clip, decoded = video_files.read_clip(str(path), start=2, num_frames=5, stride=3, frame_size=8)
    assert clip.shape == (5, 8, 8, 3) and decoded == 5
    red = clip[..., 0].mean(axis=(1, 2))
    np.testing.assert_allclose(red, [20, 50, 80, 110, 140], atol=4)  # frames 2, 5, 8, 11, 14
    assert clip[..., 1:].max() < 10  # RGB, not BGR: the red channel is first
    clip, decoded = video_files.read_clip(str(path), start=15, num_frames=4, stride=2, frame_size=8)
    assert decoded == 3  # frames 15, 17, 19; the fourth repeats the last
    np.testing.assert_array_equal(clip[3], clip[2])


def test_unreadable_files_probe_as_zero_frames(tmp_path, video_folder):
    assert video_files.probe(video_folder / "left" / "notes.mp4") == 0
    assert video_files.probe(video_folder / "grow" / "empty.mkv") == 0
    assert video_files.probe(video_folder / "left" / "clip0.mp4") >= 12
    clip, decoded = video_files.read_clip(str(video_folder / "left" / "notes.mp4"), 0, 4, 1, 8)
    assert decoded == 0


def test_folder_source_skips_bad_files_and_is_deterministic_for_evaluation(video_folder, caplog):
    with caplog.at_level(logging.WARNING):
        settings = VideoDataConfig(dataset=str(video_folder), num_frames=6, frame_stride=2, min_clips_per_epoch=0)
        data = video_sources.load(settings, frame_size=16, seed=0)
    assert "skipped 2 of 10 video file(s)" in caplog.text
    assert data.class_names == ["grow", "left"]
    assert sum(data.sizes.values()) == 8 and data.cache is False
    first = list(data.test.as_numpy_iterator())
    second = list(data.test.as_numpy_iterator())
    assert len(first) == data.sizes["test"]
    for (frames, labels), (frames_again, labels_again) in zip(first, second):
        np.testing.assert_array_equal(labels, labels_again)
        assert frames.shape == (6, 16, 16, 3) and frames.dtype == np.uint8
        assert labels.shape == (6,) and len(set(labels)) == 1  # the clip label on every frame
        np.testing.assert_array_equal(frames, frames_again)
    train = list(data.train.as_numpy_iterator())
    assert len(train) == data.sizes["train"]


def test_folder_without_readable_videos_is_a_user_error(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "fake.mp4").write_text("not a video")
        (tmp_path / name / "zero.avi").write_bytes(b"")
    with pytest.raises(UserError, match="could be decoded"):
        video_sources.load(VideoDataConfig(dataset=str(tmp_path), num_frames=4), frame_size=16)
    with pytest.raises(UserError, match="does not exist"):
        video_sources.load(VideoDataConfig(dataset=str(tmp_path / "missing"), num_frames=4), frame_size=16)


def test_embedded_source_yields_clips_with_per_frame_labels():
    data = video_sources.load(VideoDataConfig(num_frames=8, max_train_examples=4), frame_size=24)
    assert data.sizes["train"] == 4 and data.class_names == list(moving_shapes.MOTIONS)
    frames, labels = next(iter(data.test))
    assert frames.shape == (8, 24, 24, 3) and frames.dtype.name == "uint8"
    assert labels.shape == (8,) and labels.dtype.name == "int64"
