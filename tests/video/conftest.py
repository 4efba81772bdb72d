"""Fixtures for the video tests: small clips written to ``tmp_path`` with OpenCV, a tiny model config."""

from __future__ import annotations

import pathlib
import types

import numpy as np
import pytest

from pipelines.datasets.embedded import shape_motion


def make_tiny_config(**changes) -> types.SimpleNamespace:
    """The fields the video model builders read, in miniature (16x16 frames, 8 units)."""
    values = dict(frame_size=16, filters=(4, 8), convs_per_block=1, dense_units=8, dropout=0.0, cell="lstm", units=8)
    values.update(changes)
    return types.SimpleNamespace(**values)


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory) -> pathlib.Path:
    """Two classes (left, grow) of 4 clips each, mixed .mp4/.avi and sizes, plus three bad files."""
    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for motion in ("left", "grow"):
        (root / motion).mkdir()
        for index in range(4):
            size = 32 if index % 2 else 40
            frames = shape_motion.render_clip(rng, motion, num_frames=12 + index, size=size)
            shape_motion.write_video(root / motion / f"clip{index}.{'avi' if index % 2 else 'mp4'}", frames)
    (root / "left" / "notes.mp4").write_text("this is a text file, not a video\n")
    (root / "grow" / "empty.mkv").write_bytes(b"")
    (root / "grow" / "README.txt").write_text("ignored: not a video extension\n")
    return root


@pytest.fixture
def tiny_config():
    """``tiny_config(cell="gru")``: a namespace with the fields the video model builders read."""
    return make_tiny_config
