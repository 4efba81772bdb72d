"""Folder videos: decoded once into a bounded cache, clips drawn from the whole length, augmentation per clip."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from pipelines.configs.video import VideoDataConfig
from pipelines.datasets import augment, frame_cache, video_folder, video_sources
from pipelines.datasets.embedded import shape_motion


def _numbered_video(path, num_frames=60, size=16):
    """Frame i is a flat red image of brightness 4 * i: its frame number can be read back after decoding."""
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    frames[..., 0] = (np.arange(num_frames) * 4)[:, None, None]
    return shape_motion.write_video(path, frames)


def test_cache_decodes_once_rebuilds_on_change_and_stays_bounded(tmp_path, caplog):
    videos = [_numbered_video(tmp_path / f"v{i}.avi", num_frames=20 + i) for i in range(3)]
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    cache = frame_cache.FrameCache(8, 2, tmp_path / "cache")
    with caplog.at_level(logging.INFO):
        arrays, counts = cache.load([*videos, bad])
    assert "4 of 4 file(s) decoded now" in caplog.text
    assert list(counts) == [10, 11, 11, 0] and arrays[3] is None  # every 2nd frame; unreadable: 0
    np.testing.assert_allclose(arrays[0][:, 0, 0, 0], np.arange(0, 20, 2) * 4, atol=4)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again, _ = cache.load([*videos, bad])
    assert "0 of 4 file(s) decoded now" in caplog.text  # the bad file is remembered too
    np.testing.assert_array_equal(again[1], arrays[1])
    _numbered_video(videos[0], num_frames=30)  # new content under the same name: decoded anew
    caplog.clear()
    with caplog.at_level(logging.INFO):
        changed, counts = cache.load(videos)
    assert "1 of 3 file(s) decoded now" in caplog.text and counts[0] == 15
    small = frame_cache.FrameCache(8, 2, tmp_path / "small", max_bytes=2 * 11 * 8 * 8 * 3)
    arrays, counts = small.load(videos)
    assert sum(a is None for a in arrays) >= 1 and all(counts > 0)  # over the bound: read on the fly
    assert sum(p.stat().st_size for p in (tmp_path / "small").glob("*.npy")) <= small.max_bytes


def test_training_clips_cover_the_whole_video_and_evaluation_clips_are_spread(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        for actor in range(3):
            _numbered_video(tmp_path / name / f"actor{actor}_{name}.avi", num_frames=60)
    settings = VideoDataConfig(
        dataset=str(tmp_path),
        num_frames=8,
        group_pattern=r"^(actor\d+)_",
        cache_dir=str(tmp_path / "cache"),
        min_clips_per_epoch=0,
    )
    data = video_sources.load(settings, frame_size=8)
    assert data.num_videos == {"train": 3, "validation": 3, "test": 3}
    test_groups = {row["group"] for row in data.split_rows if row["split"] == "test"}
    train_groups = {row["group"] for row in data.split_rows if row["split"] == "train"}
    assert len(test_groups) == 1 and test_groups.isdisjoint(train_groups)
    starts = []
    for _ in range(3):  # epochs: a random start in every segment of every video
        starts += [round(frames[0, 0, 0, 0] / 4) for frames, _ in data.train.as_numpy_iterator()]
    assert data.sizes["train"] == 3 * 8  # 60 frames / 8 = 8 segments per video (rounded), 3 videos
    assert min(starts) < 8 and max(starts) > 44 and len(set(starts)) > 20
    evaluation = [round(frames[0, 0, 0, 0] / 4) for frames, _ in data.test.as_numpy_iterator()]
    np.testing.assert_allclose(evaluation[:8], np.round(np.linspace(0, 52, 8)), atol=1)  # MJPG: ±1 level
    assert list(data.clip_videos["test"]) == [0] * 8 + [1] * 8 + [2] * 8
    read, label, name = data.videos["test"][0]
    assert read().shape == (60, 8, 8, 3) and name.endswith(".avi")


def test_segments_of_short_and_long_videos():
    lows, highs = video_folder.segment_starts(5, 8)  # shorter than a clip: one clip from 0, padded
    assert list(lows) == [0] and list(highs) == [0]
    lows, highs = video_folder.segment_starts(100, 10)
    assert len(lows) == 10 and lows[0] == 0 and highs[-1] == 90 and all(highs >= lows)


def test_augmentation_is_one_transform_per_clip_and_flips_only_when_asked():
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[:, :16] = 200  # bright left half
    clips = np.broadcast_to(frame, (16, 6, 32, 32, 3)).copy()
    labels = np.zeros((16, 6), np.int64)
    tf.random.set_seed(0)
    augmented, same_labels = augment.make_clip_augment(flip=False)(tf.constant(clips), tf.constant(labels))
    augmented = augmented.numpy()
    assert augmented.dtype == np.uint8 and augmented.shape == clips.shape
    np.testing.assert_array_equal(same_labels.numpy(), labels)
    for clip in augmented:  # every frame of a clip got the same transform
        assert np.abs(clip.astype(int) - clip[0].astype(int)).max() == 0
    assert len({clip[0].tobytes() for clip in augmented}) > 8  # clips differ from one another
    assert all(clip[0, :, :8].mean() > clip[0, :, -8:].mean() for clip in augmented)  # never mirrored
    flipped = augment.make_clip_augment(flip=True)(tf.constant(clips), tf.constant(labels))[0].numpy()
    mirrored = [clip[0, :, :8].mean() < clip[0, :, -8:].mean() for clip in flipped]
    assert 0 < sum(mirrored) < len(mirrored)
