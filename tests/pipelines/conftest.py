"""Fixtures for the pipeline and dataset tests: clips, sentences and corpora written to temporary folders."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from pipelines.datasets.embedded import chinese_sentences, shape_motion
from tests.pipelines.generated import sentences


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
def sentence_csv(tmp_path):
    """A CSV of 600 generated Chinese sentences (pet 2 characters before 它's clause), string labels."""
    texts, labels = sentences(600, distance=2)
    path = tmp_path / "sentences.csv"
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in zip(texts, labels)), encoding="utf-8")
    return path


@pytest.fixture
def corpus_file(tmp_path):
    """A .txt corpus of 300 grammar sentences, one per line."""
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(chinese_sentences.sentences("train", 300)) + "\n", encoding="utf-8")
    return path
