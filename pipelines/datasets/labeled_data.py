"""What every source returns: unbatched train/validation/test datasets and what describes them."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class LabeledData:
    """Unbatched train/validation/test datasets of ``(input, label)`` plus what describes them."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    class_names: list[str]
    sizes: dict[str, int]
    description: str
    cache: bool = True
    split_rows: list[dict] | None = None  # folders: file, class, group and split of every file


@dataclasses.dataclass
class VideoData(LabeledData):
    """Clip splits, plus for folder sources what per-video evaluation needs.

    ``clip_videos[split]``: the video index of each evaluation clip, in dataset order;
    ``videos[split]``: ``(frames reader, label, name)`` per video, the reader returning the whole
    video as uint8 (frames, size, size, 3).
    """

    num_videos: dict[str, int] | None = None
    clip_videos: dict[str, np.ndarray] | None = None
    videos: dict[str, list] | None = None
    split_description: str = ""
