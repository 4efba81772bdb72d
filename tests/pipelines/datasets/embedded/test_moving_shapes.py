"""The moving-shapes renderer and its TFDS builder's examples: deterministic, labelled per frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipelines.datasets.embedded import moving_shapes, shape_motion


@pytest.mark.parametrize("motion", shape_motion.MOTIONS)
def test_clip_shape_dtype_and_determinism(motion):
    first = shape_motion.render_clip(np.random.default_rng(7), motion, num_frames=6, size=24)
    second = shape_motion.render_clip(np.random.default_rng(7), motion, num_frames=6, size=24)
    assert first.shape == (6, 24, 24, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    assert np.abs(np.diff(first.astype(np.int16), axis=0)).mean() > 1  # something moves


@pytest.mark.parametrize(
    "motion, check",
    [
        ("left", lambda c, r, a: c[-1, 0] < c[0, 0] and c[-1, 1] == c[0, 1]),
        ("right", lambda c, r, a: c[-1, 0] > c[0, 0]),
        ("up", lambda c, r, a: c[-1, 1] < c[0, 1] and c[-1, 0] == c[0, 0]),
        ("down", lambda c, r, a: c[-1, 1] > c[0, 1]),
        ("grow", lambda c, r, a: r[-1] > r[0] and (c[-1] == c[0]).all()),
        ("shrink", lambda c, r, a: r[-1] < r[0]),
        ("rotate_cw", lambda c, r, a: a[-1] < a[0] and r[-1] == r[0]),  # angles are counter-clockwise
        ("rotate_ccw", lambda c, r, a: a[-1] > a[0]),
    ],
)
def test_trajectory_moves_as_the_label_says_and_stays_in_frame(motion, check):
    for seed in range(5):
        centers, radii, angles = shape_motion._trajectory(
            np.random.default_rng(seed), motion, 16, 32, shape_motion.MotionRanges()
        )
        assert check(centers, radii, angles)
        assert (centers >= 0).all() and (centers <= 32).all()


def test_builder_examples_are_deterministic_and_labelled_per_frame():
    frames, labels = moving_shapes.render_example("test", 5)
    again, labels_again = moving_shapes.render_example("test", 5)
    np.testing.assert_array_equal(frames, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert frames.shape == (moving_shapes.NUM_FRAMES, moving_shapes.FRAME_SIZE, moving_shapes.FRAME_SIZE, 3)
    assert labels.shape == (moving_shapes.NUM_FRAMES,) and (labels == 5 % len(moving_shapes.MOTIONS)).all()
    other, _ = moving_shapes.render_example("validation", 5)
    assert not np.array_equal(frames, other)  # splits use different seeds
    # Some training clips are two motions cut together.
    two_motions = [moving_shapes.render_example("train", i)[1] for i in range(24)]
    assert any(len(set(labels)) == 2 for labels in two_motions)


def test_long_video_has_per_frame_segments_and_round_trips_through_mp4(tmp_path):
    frames, labels = shape_motion.render_long_video(seed=1, num_segments=3, size=32, segment_frames=(10, 12))
    again, _ = shape_motion.render_long_video(seed=1, num_segments=3, size=32, segment_frames=(10, 12))
    np.testing.assert_array_equal(frames, again)
    assert len(frames) == len(labels) and 30 <= len(labels) <= 36
    changes = np.flatnonzero(np.diff(labels)) + 1
    assert len(changes) == 2  # consecutive segments always differ
    path = shape_motion.write_video(tmp_path / "long.mp4", frames, fps=25)
    capture = cv2.VideoCapture(str(path))
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
    capture.release()
    assert count == len(frames)
