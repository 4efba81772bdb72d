"""Video classification sources: embedded moving shapes, ``tfds:NAME`` and folders of class folders.

Every source yields unbatched ``(frames, labels)``: frames uint8 (num_frames, size, size, 3) RGB,
labels int64 (num_frames,), one per frame (a clip-level label is broadcast to every frame).

Folders (:mod:`pipelines.datasets.video_folder`) are split by group, decoded once into an on-disk
frame cache and sampled along their whole length; files that cannot be decoded are skipped and
counted before training starts.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf
import tensorflow_datasets as tfds

from common.errors import UserError
from models import resizing
from pipelines.datasets import checks, frame_cache, tfds_source, video_folder
from pipelines.datasets.embedded import moving_shapes
from pipelines.datasets.labeled_data import VideoData

EMBEDDED_NAME = "moving_shapes"


def load(data, frame_size: int, seed: int = 0) -> VideoData:
    """Resolves the data settings (``pipelines.configs.video.VideoDataConfig``) into labelled clip splits.

    ``data.dataset`` is empty (the embedded clips), ``tfds:NAME`` or a folder; ``num_frames`` frames
    per clip, every ``frame_stride``-th frame of a file, resized to ``frame_size``.
    ``LabeledData.cache`` says whether the *training* split may be cached (folders: no, so each
    epoch samples new start frames); evaluation splits are deterministic and always cacheable.
    Folders are split by group (:mod:`pipelines.datasets.groups`) and decoded once into the frame
    cache (:mod:`pipelines.datasets.frame_cache`, bounded by ``cache_max_gb``); an epoch draws one
    clip at a random start in every segment of every training video, repeated up to
    ``min_clips_per_epoch`` clips. ``max_train_examples`` and ``max_eval_examples`` cap the splits.
    """
    num_frames, stride = data.num_frames, data.frame_stride
    if num_frames < 1 or stride < 1:
        raise UserError("num_frames and frame_stride must be positive")
    dataset = data.dataset
    if not dataset:
        clips = _from_embedded(num_frames, frame_size)
    elif dataset.startswith("tfds:"):
        clips = _from_tfds(dataset[len("tfds:") :], num_frames, frame_size, stride, seed)
    else:
        path = pathlib.Path(dataset).expanduser()
        checks.check_folder_dataset(dataset, "video")
        if not path.is_dir():
            raise UserError(f"dataset '{dataset}' is a file: video datasets are folders with one sub-folder per class")
        clips = video_folder.load(
            path,
            num_frames,
            frame_size,
            stride,
            seed,
            group_pattern=data.group_pattern,
            split_files=data.split_files,
            min_clips_per_epoch=data.min_clips_per_epoch,
            cache=frame_cache.FrameCache(frame_size, stride, data.cache_dir, int(data.cache_max_gb * (1 << 30))),
        )
    if data.max_train_examples:
        clips.train = clips.train.take(data.max_train_examples)
        clips.sizes["train"] = min(clips.sizes["train"], data.max_train_examples)
    if data.max_eval_examples:
        clips.validation = clips.validation.take(data.max_eval_examples)
        clips.test = clips.test.take(data.max_eval_examples)
        for split in ("validation", "test"):
            clips.sizes[split] = min(clips.sizes[split], data.max_eval_examples)
            if clips.clip_videos:
                clips.clip_videos[split] = clips.clip_videos[split][: data.max_eval_examples]
    return clips


def _resize_frames(frames: tf.Tensor, size: int) -> tf.Tensor:
    """(time, h, w, 3) → (time, size, size, 3) uint8, the model's anti-aliased bilinear resize."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    return resizing.resize_uint8(frames, size)


def _from_embedded(num_frames: int, frame_size: int) -> VideoData:
    builder = tfds_source.prepared_builder(EMBEDDED_NAME)
    if num_frames > moving_shapes.NUM_FRAMES:
        raise UserError(f"the embedded clips have {moving_shapes.NUM_FRAMES} frames; set num_frames to at most that")

    def decode(example):
        # The clips are a zlib-compressed uint8 tensor feature, decoded here rather than by TFDS, whose
        # decoder reads its own deprecated FeatureConnector.dtype and logs a warning for every dataset.
        raw = tf.io.decode_raw(tf.io.decode_compressed(example["video"], compression_type="ZLIB"), tf.uint8)
        video = tf.reshape(raw, builder.info.features["video"].shape)
        return _resize_frames(video[:num_frames], frame_size), example["frame_labels"][:num_frames]

    read = {"video": tfds.decode.SkipDecoding()}
    datasets = [
        builder.as_dataset(split=split, shuffle_files=False, decoders=read).map(
            decode, num_parallel_calls=tf.data.AUTOTUNE
        )
        for split in ("train", "validation", "test")
    ]
    sizes = {split: builder.info.splits[split].num_examples for split in ("train", "validation", "test")}
    return VideoData(
        *datasets,
        class_names=list(builder.info.features["label"].names),
        sizes=sizes,
        description=f"tfds:{EMBEDDED_NAME} (embedded)",
    )


def _from_tfds(name: str, num_frames: int, frame_size: int, stride: int, seed: int) -> VideoData:
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
