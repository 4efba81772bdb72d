"""A folder of class folders of videos as clip splits that see every video whole.

- Split by group (:func:`pipelines.datasets.groups.split_folder`): no person or recording on two sides.
- Decoded once into the frame cache; every epoch after the first decodes nothing.
- Training: each video of ``frames`` frames is cut into ``segments = max(1, round(frames / num_frames))``
  ranges of start frames, and an epoch draws one clip at a random start in every segment of every
  video (repeated to at least ``min_clips_per_epoch`` clips, so a small dataset still gets enough
  steps per epoch for early stopping to mean something).
- Evaluation: the same number of clips per video, at evenly spread fixed starts; ``clip_videos``
  maps each clip to its video, and ``videos`` gives the whole videos for per-frame evaluation over
  their full length.
"""

from __future__ import annotations

import logging
import math
import pathlib

import numpy as np
import tensorflow as tf

from common import formats
from common.errors import UserError
from pipelines.datasets import frame_cache, groups, image_sources, splits, video_files
from pipelines.datasets.labeled_data import VideoData


def segment_starts(num_video_frames: int, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest start frame of each segment of one video (inclusive)."""
    latest = max(num_video_frames - num_frames, 0)
    count = max(1, round(num_video_frames / num_frames))
    edges = np.floor(np.arange(count + 1) * (latest + 1) / count).astype(np.int64)
    lows = edges[:-1]
    highs = np.maximum(edges[1:] - 1, lows)
    return lows, highs


def evaluation_starts(num_video_frames: int, num_frames: int) -> np.ndarray:
    """Evenly spread fixed clip starts along a video, one per segment, the first at 0 and the last at the end."""
    lows, _ = segment_starts(num_video_frames, num_frames)
    latest = max(num_video_frames - num_frames, 0)
    return np.round(np.linspace(0, latest, len(lows))).astype(np.int64)


def clip_table(videos, frame_counts, num_frames: int, training: bool, min_clips: int = 0) -> list[tuple[int, int, int]]:
    """One epoch's clips as rows (video, lowest start, highest start): every segment of every video;
    for training, repeated up to ``min_clips`` rows and read at a random start in the range, for
    evaluation at fixed starts (lowest = highest)."""
    table = []
    for index in videos:
        if training:
            lows, highs = segment_starts(int(frame_counts[index]), num_frames)
        else:
            lows = highs = evaluation_starts(int(frame_counts[index]), num_frames)
        table.extend((int(index), int(low), int(high)) for low, high in zip(lows, highs))
    if training and table and len(table) < min_clips:
        table = table * math.ceil(min_clips / len(table))
    return table


def clip_of(frames: np.ndarray, start: int, num_frames: int) -> np.ndarray:
    """``num_frames`` frames (or per-frame features) from ``start``; a short video repeats its last frame."""
    clip = np.asarray(frames[start : start + num_frames])
    if len(clip) < num_frames:
        clip = np.concatenate([clip, np.repeat(clip[-1:], num_frames - len(clip), axis=0)])
    return clip


class _Reader:
    """Clips of one video: from its cached frames, or decoded on the fly when it is over the cache bound."""

    def __init__(self, path: pathlib.Path, frames: np.ndarray | None, num_video_frames: int, size: int, stride: int):
        self.path, self.frames, self.num_video_frames, self.size, self.stride = (
            path,
            frames,
            num_video_frames,
            size,
            stride,
        )

    def clip(self, start: int, num_frames: int) -> np.ndarray:
        if self.frames is None:
            clip, _ = video_files.read_clip(str(self.path), start * self.stride, num_frames, self.stride, self.size)
            return clip
        return clip_of(self.frames, start, num_frames)

    def whole(self) -> np.ndarray:
        if self.frames is not None:
            return np.asarray(self.frames)
        return video_files.decode_video(str(self.path), self.size, self.stride)


def clips_dataset(read_clip, table, clip_spec: tf.TensorSpec, training: bool, seed: int) -> tf.data.Dataset:
    """``table`` rows (video, low start, high start) → ``read_clip(video, start)``: a clip of ``clip_spec``
    (frames first) and its per-frame int64 labels, at a random start in the range when ``training``,
    else at the lowest."""
    rows = tf.data.Dataset.from_tensor_slices(np.asarray(table, np.int64).reshape(-1, 3))
    if training:
        rows = rows.shuffle(len(table), seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def read(row, random):
        video, low, high = row[0], row[1], row[2]
        start = low + tf.math.floormod(random, high - low + 1) if training else low
        clip, labels = tf.numpy_function(
            lambda v, s: read_clip(int(v), int(s)), [video, start], (clip_spec.dtype, tf.int64), stateful=False
        )
        return tf.ensure_shape(clip, clip_spec.shape), tf.ensure_shape(labels, clip_spec.shape[:1])

    return tf.data.Dataset.zip(rows, randoms).map(read, num_parallel_calls=tf.data.AUTOTUNE)


def load(
    root: pathlib.Path,
    num_frames: int,
    frame_size: int,
    stride: int,
    seed: int,
    group_pattern: str,
    split_files: str,
    min_clips_per_epoch: int,
    cache: frame_cache.FrameCache,
) -> VideoData:
    class_names, paths, labels = image_sources.list_class_files(root, formats.VIDEO_EXTENSIONS, "video")
    arrays, frame_counts = cache.load(paths)
    readable = frame_counts > 0
    skipped = [str(p) for p, ok in zip(paths, readable) if not ok]
    if skipped:
        logging.warning(
            "skipped %d of %d video file(s) that OpenCV cannot open or that have no frames, e.g. %s",
            len(skipped),
            len(paths),
            ", ".join(skipped[:3]),
        )
    if not readable.any():
        raise UserError(f"none of the {len(paths)} video file(s) under '{root}' could be decoded (see the log above)")
    keep = np.flatnonzero(readable)
    paths, arrays = [paths[i] for i in keep], [arrays[i] for i in keep]
    labels, frame_counts = labels[keep], frame_counts[keep]
    present = np.unique(labels)  # a class whose files were all skipped is dropped
    class_names = [class_names[i] for i in present]
    labels = np.searchsorted(present, labels).astype(np.int64)
    splits.check_classes(class_names, {n: int((labels == i).sum()) for i, n in enumerate(class_names)}, f"'{root}'")
    folder_split = groups.split_folder(
        root, paths, labels, seed=seed, group_pattern=group_pattern, split_files=split_files, kind="video"
    )
    logging.info("%s", folder_split.describe())
    readers = [_Reader(p, a, int(n), frame_size, stride) for p, a, n in zip(paths, arrays, frame_counts)]

    spec = tf.TensorSpec([num_frames, frame_size, frame_size, 3], tf.uint8)

    def read_clip(video: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        return readers[video].clip(start, num_frames), np.full(num_frames, labels[video], np.int64)

    datasets, clip_videos, videos, sizes = [], {}, {}, {}
    for split, indices in zip(groups.SPLIT_NAMES, folder_split.parts):
        training = split == "train"
        table = clip_table(indices, frame_counts, num_frames, training, min_clips_per_epoch)
        datasets.append(clips_dataset(read_clip, table, spec, training, seed))
        sizes[split] = len(table)
        videos[split] = [(readers[i].whole, int(labels[i]), paths[i].relative_to(root).as_posix()) for i in indices]
        if not training:
            positions = {int(index): position for position, index in enumerate(indices)}
            clip_videos[split] = np.asarray([positions[row[0]] for row in table], np.int64)
    num_videos = {split: int(len(indices)) for split, indices in zip(groups.SPLIT_NAMES, folder_split.parts)}
    logging.info(
        "folder %s: %d videos in %d classes; clips per epoch: train %d, validation %d, test %d",
        root,
        len(labels),
        len(class_names),
        sizes["train"],
        sizes["validation"],
        sizes["test"],
    )
    return VideoData(
        *datasets,
        class_names=class_names,
        sizes=sizes,
        description=str(root),
        cache=False,  # training clips start at a new random frame every epoch
        num_videos=num_videos,
        clip_videos=clip_videos,
        videos=videos,
        split_rows=folder_split.rows(root, paths, class_names, labels),
        split_description=folder_split.describe(),
    )
