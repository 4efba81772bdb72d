"""The video model's frozen phase on a pretrained backbone, the backbone run once per frame.

A frozen backbone maps a frame to the same feature map in every epoch, so it is not run in every
epoch: before the phase, every frame of every training and validation video goes through it once
(and, with ``--flip``, its mirror image too), and the phase trains the rest of the model on clips cut
from those feature maps::

    frames ─ preprocess ─ backbone (frozen) ─┐ once, cached in memory
                                             └─ reduce ─ features ─ difference ─ LSTM/GRU ─ probabilities
                                                (the full model's own layers: their weights train here)

Clips are drawn as the folder source draws them (``pipelines.datasets.video_folder.clip_table``): a
new random start in every segment of every video each epoch. Sources without whole videos (the
embedded clips, ``tfds:``) cache their clips as they come. No augmentation in this phase (a crop or a
change of brightness would need the backbone again); phase two fine-tunes the whole model on
augmented frames. When the feature maps would not fit in ``MAX_CACHE_BYTES`` the phase runs the
backbone, frozen, in every step instead, and says so.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

from pipelines.datasets import video_folder

MAX_CACHE_BYTES = 4 << 30


def _feature_model(model: keras.Model) -> keras.Model:
    """uint8 frames (batch, time, h, w, 3) → the frozen backbone's maps (batch * time, h', w', c)."""
    encoder = model.get_layer("frame_encoder")
    frames = keras.Input((None, None, None, 3), dtype="uint8", name="frames")
    x = model.get_layer("preprocess")(frames)
    if any(layer.name == "backbone_scaling" for layer in encoder.layers):
        x = encoder.get_layer("backbone_scaling")(x)
    return keras.Model(frames, encoder.get_layer("backbone")(x, training=False), name="backbone_features")


def top_model(model: keras.Model, config) -> keras.Model:
    """Cached maps (batch, time, h', w', c) → probabilities (batch, time, classes), through ``model``'s
    own layers after the backbone (trained here, they are trained in ``model``)."""
    encoder = model.get_layer("frame_encoder")
    shape = encoder.get_layer("backbone").output.shape[1:]
    maps = keras.Input((None, *shape), name="backbone_maps")
    x = keras.ops.reshape(maps, (-1, *shape))
    for name in ("reduce", "flatten", "dropout", "features"):
        x = encoder.get_layer(name)(x)
    x = model.get_layer("split_time")(x, maps)
    if config.feature_difference:
        x = model.get_layer("temporal_difference")(x)
    sequence, *_ = model.get_layer("recurrent")(x)
    probabilities = model.get_layer("probabilities")(model.get_layer("head_dropout")(sequence))
    return keras.Model(maps, probabilities, name=f"{model.name}_on_cached_features")


def _encode(features, clips, flip: bool, batch_frames: int = 256) -> np.ndarray:
    """The maps of a clip or video's frames (time, h, w, 3) uint8, a few hundred frames per call."""
    rows = []
    for start in range(0, len(clips), batch_frames):
        part = clips[start : start + batch_frames]
        if flip:
            part = part[:, :, ::-1]
        rows.append(features(tf.constant(part[np.newaxis])).numpy())
    return np.concatenate(rows)


def _sequences(data, split: str, sizes) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frames, per-frame labels) of every video of a split, or of every clip where there are no videos."""
    if data.videos:
        out = []
        for whole, label, _ in data.videos[split]:
            frames = whole()
            out.append((frames, np.full(len(frames), label, np.int64)))
        return out
    dataset = data.train if split == "train" else data.validation
    return [(clip.numpy(), labels.numpy()) for clip, labels in dataset.take(sizes[split])]


def cached_datasets(model: keras.Model, config, data) -> tuple[tf.data.Dataset, tf.data.Dataset] | None:
    """Batched (maps clip, labels) training and validation datasets, or None when they would not fit."""
    num_frames, batch_size = config.data.num_frames, config.training.batch_size
    features = _feature_model(model)
    map_shape = features.output.shape[1:]
    frame_bytes = int(np.prod(map_shape)) * 4
    sizes = {"train": data.sizes["train"], "validation": data.sizes["validation"]}
    if not data.videos:  # clips, each of num_frames frames
        estimate = (sizes["train"] * (2 if config.data.flip else 1) + sizes["validation"]) * num_frames * frame_bytes
        if estimate > MAX_CACHE_BYTES:
            logging.info(
                "the backbone's features of %d clips would take %.1f GB; the frozen phase runs the backbone in "
                "every step instead",
                sum(sizes.values()),
                estimate / 1e9,
            )
            return None
    forward = tf.function(features, reduce_retracing=True)
    datasets, cached_bytes, cached_frames = [], 0, 0
    for split in ("train", "validation"):
        sequences = _sequences(data, split, sizes)
        flips = (False, True) if split == "train" and config.data.flip else (False,)
        maps, labels = [], []
        for flip in flips:
            for frames, frame_labels in sequences:
                maps.append(_encode(forward, frames, flip))
                labels.append(frame_labels)
                cached_bytes += maps[-1].nbytes
                cached_frames += len(frames)
                if cached_bytes > MAX_CACHE_BYTES:
                    logging.info(
                        "the backbone's features passed %.1f GB; the frozen phase runs the backbone in every step "
                        "instead",
                        MAX_CACHE_BYTES / 1e9,
                    )
                    return None
        counts = np.asarray([len(m) for m in maps])
        training = split == "train"
        if data.videos:
            table = video_folder.clip_table(
                range(len(maps)), counts, num_frames, training, config.data.min_clips_per_epoch
            )
        else:
            table = [(index, 0, 0) for index in range(len(maps))]

        def read_clip(video: int, start: int, maps=maps, labels=labels) -> tuple[np.ndarray, np.ndarray]:
            return video_folder.clip_of(maps[video], start, num_frames), video_folder.clip_of(
                labels[video], start, num_frames
            )

        spec = tf.TensorSpec([num_frames, *map_shape], tf.float32)
        dataset = video_folder.clips_dataset(read_clip, table, spec, training, config.seed)
        datasets.append(dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE))
    logging.info(
        "frozen %s: %d frames through the backbone once, %.0f MB of feature maps %s cached",
        config.model.encoder,
        cached_frames,
        cached_bytes / 1e6,
        tuple(map_shape),
    )
    return datasets[0], datasets[1]


def frozen_model_builder(model: keras.Model, config, data):
    """What the frozen phase fits: the model on cached backbone features, or (when they do not fit) the
    model itself with its backbone frozen; returns a build function for ``trainer.fit`` and the datasets
    to use (None: the clips as they are)."""
    backbone = model.get_layer("frame_encoder").get_layer("backbone")
    backbone.trainable = False
    cached = cached_datasets(model, config, data)
    if cached is None:
        return (lambda: model), None
    return (lambda: top_model(model, config.model)), cached
