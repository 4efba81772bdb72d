"""Video classification sources: embedded moving shapes, ``tfds:NAME`` and folders of class folders.

Every source yields unbatched ``(frames, labels)``: frames uint8 (num_frames, size, size, 3) RGB,
labels int64 (num_frames,), one per frame (a clip-level label is broadcast to every frame).

Folders are decoded with OpenCV inside the tf.data graph (``map`` with parallel calls): each
element reads only the frames it samples (``num_frames`` at ``stride``), resized as they come, so
no whole video is ever held in memory. Training clips start at a random frame each epoch;
validation and test clips start at frame 0 (deterministic). Files that cannot be opened or have
no frames are skipped and counted before training starts.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import pathlib

# FFmpeg prints to the C-level stderr for broken files; the skips are reported in one log line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

from pipelines.datasets import (  # noqa: E402
    image_sources,
    moving_shapes,
    splits,
    tfds_source,
)
from pipelines.errors import UserError  # noqa: E402

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
EMBEDDED_NAME = "moving_shapes"
_CACHE_LIMIT_BYTES = 3 << 30


def load(
    dataset: str, num_frames: int, frame_size: int, stride: int = 1, seed: int = 0, max_train_examples: int = 0
) -> image_sources.LabeledData:
    """Resolves a ``DATASET`` value (empty, ``tfds:NAME`` or a folder) into labelled clip splits.

    ``LabeledData.cache`` says whether the *training* split may be cached (folders: no, so each
    epoch samples new start frames); evaluation splits are deterministic and always cacheable.
    """
    if num_frames < 1 or stride < 1:
        raise UserError("num_frames and frame_stride must be positive")
    if not dataset:
        data = _from_embedded(num_frames, frame_size)
    elif dataset.startswith("tfds:"):
        data = _from_tfds(dataset[len("tfds:") :], num_frames, frame_size, stride, seed)
    else:
        path = pathlib.Path(dataset).expanduser()
        if not path.exists():
            raise UserError(f"dataset path '{dataset}' does not exist: give a folder of class sub-folders or tfds:NAME")
        if not path.is_dir():
            raise UserError(f"dataset '{dataset}' is a file: video datasets are folders with one sub-folder per class")
        data = _from_folder(path, num_frames, frame_size, stride, seed)
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
    return image_sources.LabeledData(
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
    return image_sources.LabeledData(
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
    """Decodes ``num_frames`` frames from ``start`` every ``stride`` frames, resized as they come.

    Frames past the end of a short video repeat its last decoded frame.

    Returns:
        uint8 (num_frames, frame_size, frame_size, 3) RGB, and how many frames were really decoded
        (0: unreadable).
    """
    clip = np.zeros((num_frames, frame_size, frame_size, 3), np.uint8)
    capture = cv2.VideoCapture(path)
    decoded = 0
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
            # INTER_AREA: anti-aliased like the model's resize, and far cheaper on large frames.
            small = cv2.resize(frame[..., :3], (frame_size, frame_size), interpolation=cv2.INTER_AREA)
            clip[decoded] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            decoded += 1
            for _ in range(stride - 1):
                if not capture.grab():
                    break
    finally:
        capture.release()
    if 0 < decoded < num_frames:
        clip[decoded:] = clip[decoded - 1]
    return clip, decoded


def folder_clips(
    paths: list[str],
    labels: np.ndarray,
    frame_counts: np.ndarray,
    num_frames: int,
    frame_size: int,
    stride: int,
    training: bool,
    seed: int = 0,
) -> tf.data.Dataset:
    """A tf.data pipeline decoding one clip per file in parallel; unreadable clips are dropped.

    Training clips start at a random frame (re-drawn every epoch); otherwise at frame 0.
    """
    span = (num_frames - 1) * stride + 1
    latest_starts = np.maximum(np.asarray(frame_counts, np.int64) - span, 0)
    files = tf.data.Dataset.from_tensor_slices((list(map(str, paths)), np.asarray(labels, np.int64), latest_starts))
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(files, randoms)

    def decode(file_info, random):
        path, label, latest_start = file_info
        start = tf.math.floormod(random, latest_start + 1) if training else tf.constant(0, tf.int64)
        frames, decoded = tf.numpy_function(
            lambda p, s: read_clip(p.decode(), int(s), num_frames, stride, frame_size),
            [path, start],
            [tf.uint8, tf.int64],
            stateful=False,
        )
        frames = tf.ensure_shape(frames, [num_frames, frame_size, frame_size, 3])
        return frames, tf.fill([num_frames], label), decoded

    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.filter(lambda frames, labels, decoded: decoded > 0)
    return dataset.map(lambda frames, labels, decoded: (frames, labels), num_parallel_calls=tf.data.AUTOTUNE)


def _from_folder(
    root: pathlib.Path, num_frames: int, frame_size: int, stride: int, seed: int
) -> image_sources.LabeledData:
    class_names, paths, labels = image_sources.list_class_files(root, VIDEO_EXTENSIONS, "video")
    workers = min(8, (os.cpu_count() or 2) * 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        frame_counts = np.asarray(list(pool.map(probe, paths)), np.int64)
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
    paths = [p for p, ok in zip(paths, readable) if ok]
    labels, frame_counts = labels[readable], frame_counts[readable]
    present = np.unique(labels)  # a class whose files were all skipped is dropped
    class_names = [class_names[i] for i in present]
    labels = np.searchsorted(present, labels).astype(np.int64)
    counts = {name: int((labels == i).sum()) for i, name in enumerate(class_names)}
    splits.check_classes(class_names, counts, f"'{root}'")
    parts = splits.stratified_split(labels, seed=seed)
    datasets = [
        folder_clips(
            [paths[i] for i in indices],
            labels[indices],
            frame_counts[indices],
            num_frames,
            frame_size,
            stride,
            training=(index == 0),
            seed=seed,
        )
        for index, indices in enumerate(parts)
    ]
    sizes = dict(zip(("train", "validation", "test"), (len(idx) for idx in parts)))
    logging.info("folder %s: %d videos in %d classes, split %s", root, len(labels), len(class_names), sizes)
    return image_sources.LabeledData(
        *datasets,
        class_names=class_names,
        sizes=sizes,
        description=str(root),
        cache=False,  # training clips start at a new random frame every epoch
    )
