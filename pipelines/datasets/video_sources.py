"""Video classification sources: embedded moving shapes, ``tfds:NAME`` and folders of class folders.

Every source yields unbatched ``(frames, labels)``: frames uint8 (num_frames, size, size, 3) RGB,
labels int64 (num_frames,), one per frame (a clip-level label is broadcast to every frame).

Folders (:mod:`pipelines.datasets.video_folder`) are split by group, decoded once into an on-disk
frame cache and sampled along their whole length; files that cannot be decoded are skipped and
counted before training starts. :func:`read_clip` decodes one clip straight from a file (what a
video over the cache bound costs every time).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

# FFmpeg prints to the C-level stderr for broken files; the skips are reported in one log line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

from common.errors import UserError  # noqa: E402
from pipelines.datasets import checks, frame_cache, image_sources, tfds_source
from pipelines.datasets.embedded import moving_shapes

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
EMBEDDED_NAME = "moving_shapes"
_CACHE_LIMIT_BYTES = 3 << 30


@dataclasses.dataclass
class VideoData(image_sources.LabeledData):
    """Clip splits, plus for folder sources what per-video evaluation needs.

    ``clip_videos[split]``: the video index of each evaluation clip, in dataset order;
    ``videos[split]``: ``(frames reader, label, name)`` per video, the reader returning the whole
    video as uint8 (frames, size, size, 3).
    """

    num_videos: dict[str, int] | None = None
    clip_videos: dict[str, np.ndarray] | None = None
    videos: dict[str, list] | None = None
    split_description: str = ""


def load(
    dataset: str,
    num_frames: int,
    frame_size: int,
    stride: int = 1,
    seed: int = 0,
    max_train_examples: int = 0,
    group_pattern: str = "",
    split_files: str = "",
    min_clips_per_epoch: int = 0,
    cache_dir: str = "",
    cache_max_bytes: int = 4 << 30,
) -> VideoData:
    """Resolves a ``DATASET`` value (empty, ``tfds:NAME`` or a folder) into labelled clip splits.

    ``LabeledData.cache`` says whether the *training* split may be cached (folders: no, so each
    epoch samples new start frames); evaluation splits are deterministic and always cacheable.
    Folders are split by group (:mod:`pipelines.datasets.groups`) and decoded once into the frame
    cache (:mod:`pipelines.datasets.frame_cache`); an epoch draws one clip at a random start in
    every segment of every training video, repeated up to ``min_clips_per_epoch`` clips.
    """
    if num_frames < 1 or stride < 1:
        raise UserError("num_frames and frame_stride must be positive")
    if not dataset:
        data = _from_embedded(num_frames, frame_size)
    elif dataset.startswith("tfds:"):
        data = _from_tfds(dataset[len("tfds:") :], num_frames, frame_size, stride, seed)
    else:
        path = pathlib.Path(dataset).expanduser()
        checks.check_folder_dataset(dataset, "video")
        if not path.is_dir():
            raise UserError(f"dataset '{dataset}' is a file: video datasets are folders with one sub-folder per class")
        from pipelines.datasets import video_folder

        data = video_folder.load(
            path,
            num_frames,
            frame_size,
            stride,
            seed,
            group_pattern=group_pattern,
            split_files=split_files,
            min_clips_per_epoch=min_clips_per_epoch,
            cache=frame_cache.FrameCache(frame_size, stride, cache_dir, cache_max_bytes),
        )
    if max_train_examples:
        data.train = data.train.take(max_train_examples)
        data.sizes["train"] = min(data.sizes["train"], max_train_examples)
    return data


def _resize_frames(frames: tf.Tensor, size: int) -> tf.Tensor:
    """(time, h, w, 3) → (time, size, size, 3) uint8, the model's anti-aliased bilinear resize."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    resized = tf.image.resize(tf.cast(frames, tf.float32), (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def _from_embedded(num_frames: int, frame_size: int) -> image_sources.LabeledData:
    builder = tfds_source.prepared_builder(EMBEDDED_NAME)
    if num_frames > moving_shapes.NUM_FRAMES:
        raise UserError(f"the embedded clips have {moving_shapes.NUM_FRAMES} frames; set num_frames to at most that")

    def decode(example):
        frames = _resize_frames(example["video"][:num_frames], frame_size)
        return frames, example["frame_labels"][:num_frames]

    datasets = [
        builder.as_dataset(split=split, shuffle_files=False).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        for split in ("train", "validation", "test")
    ]
    sizes = {split: builder.info.splits[split].num_examples for split in ("train", "validation", "test")}
    return VideoData(
        *datasets,
        class_names=list(builder.info.features["label"].names),
        sizes=sizes,
        description=f"tfds:{EMBEDDED_NAME} (embedded)",
    )


def _from_tfds(name: str, num_frames: int, frame_size: int, stride: int, seed: int) -> image_sources.LabeledData:
    builder = tfds_source.prepared_builder(name)
    features = builder.info.features
    video_key = next((k for k, f in features.items() if isinstance(f, tfds.features.Video)), None)
    label_key = next((k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)), None)
    if video_key is None or label_key is None:
        raise UserError(f"TFDS dataset '{name}' has no video and class-label features; pick a video dataset")
    split_names = tfds_source.three_way_splits(builder, name)
    span = (num_frames - 1) * stride + 1

    def decode(example, training):
        video = example[video_key]  # (frames, h, w, 3): TFDS decodes whole clips (UCF101's are short)
        length = tf.shape(video)[0]
        latest_start = tf.maximum(length - span, 0)
        start = tf.random.uniform([], 0, latest_start + 1, dtype=tf.int32) if training else 0
        indices = tf.minimum(start + tf.range(num_frames) * stride, length - 1)
        frames = _resize_frames(tf.gather(video, indices), frame_size)
        return frames, tf.fill([num_frames], tf.cast(example[label_key], tf.int64))

    datasets = [
        builder.as_dataset(split=split, shuffle_files=False).map(
            lambda example, training=(index == 0): decode(example, training), num_parallel_calls=tf.data.AUTOTUNE
        )
        for index, split in enumerate(split_names)
    ]
    sizes = {
        key: builder.info.splits[split].num_examples for key, split in zip(("train", "validation", "test"), split_names)
    }
    return VideoData(
        *datasets, class_names=list(features[label_key].names), sizes=sizes, description=f"tfds:{name}", cache=False
    )


def probe(path: str | pathlib.Path) -> int:
    """Frames the container announces (at least 1), or 0 when OpenCV cannot decode a first frame."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0
        ok, frame = capture.read()
        if not ok or frame is None or frame.size == 0:
            return 0
        return max(1, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def read_clip(path: str, start: int, num_frames: int, stride: int, frame_size: int) -> tuple[np.ndarray, int]:
    """Decodes ``num_frames`` frames from ``start`` every ``stride`` frames, resized as the model resizes.

    Frames past the end of a short video repeat its last decoded frame.

    Returns:
        uint8 (num_frames, frame_size, frame_size, 3) RGB, and how many frames were really decoded
        (0: unreadable).
    """
    clip = np.zeros((num_frames, frame_size, frame_size, 3), np.uint8)
    capture = cv2.VideoCapture(path)
    decoded, frames = 0, []
    try:
        if not capture.isOpened():
            return clip, 0
        for _ in range(start):  # grab() skips without converting: cheap
            if not capture.grab():
                break
        while decoded < num_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            frames.append(cv2.cvtColor(frame[..., :3], cv2.COLOR_BGR2RGB))
            decoded += 1
            for _ in range(stride - 1):
                if not capture.grab():
                    break
    finally:
        capture.release()
    if frames:  # the exported model's own resize: training sees what serving will
        clip[:decoded] = frame_cache.resize_frames(np.stack(frames), frame_size)
    if 0 < decoded < num_frames:
        clip[decoded:] = clip[decoded - 1]
    return clip, decoded
