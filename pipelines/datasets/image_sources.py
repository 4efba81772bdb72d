"""Image classification sources: the embedded shapes, ``tfds:NAME`` and folders of class folders.

Every source yields unbatched ``(image, label)`` pairs, images uint8 (size, size, 3) RGB resized
with the same anti-aliased bilinear resize that the exported model applies to raw client images,
so training and serving see identical pixels.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import pathlib

import cv2
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import tqdm

from common import formats
from common.errors import UserError
from models import resizing
from pipelines.datasets import checks, groups, splits, tfds_source
from pipelines.datasets.embedded import shapes_images  # noqa: F401  (registers the embedded builder)
from pipelines.datasets.labeled_data import LabeledData

EMBEDDED_NAME = "shapes_images"
_CACHE_LIMIT_BYTES = 3 << 30


def resize_image(image: tf.Tensor, size: int) -> tf.Tensor:
    """(h, w, c) any dtype → (size, size, 3) uint8 RGB; the resize the exported model also uses."""
    image = tf.convert_to_tensor(image)
    channels = tf.shape(image)[-1]
    image = tf.cond(channels == 1, lambda: tf.image.grayscale_to_rgb(image[..., :1]), lambda: image[..., :3])
    return resizing.resize_uint8(image, size)


def load(data, image_size: int, seed: int = 0) -> LabeledData:
    """Resolves the data settings (``pipelines.configs.image.ImageDataConfig``: ``dataset`` empty,
    ``tfds:NAME`` or a folder; ``group_pattern``, ``split_files``, ``max_train_examples``) into labelled splits.

    Folders are split by group where groups are known (:mod:`pipelines.datasets.groups`).
    """
    dataset = data.dataset
    if not dataset:
        labeled = _from_tfds(EMBEDDED_NAME, image_size)
    elif dataset.startswith("tfds:"):
        labeled = _from_tfds(dataset[len("tfds:") :], image_size)
    else:
        path = pathlib.Path(dataset).expanduser()
        checks.check_folder_dataset(dataset, "image")
        if not path.is_dir():
            raise UserError(f"dataset '{dataset}' is a file: image datasets are folders with one sub-folder per class")
        labeled = _from_folder(path, image_size, seed, data.group_pattern, data.split_files)
    if data.max_train_examples:
        labeled.train = labeled.train.take(data.max_train_examples)
        labeled.sizes["train"] = min(labeled.sizes["train"], data.max_train_examples)
    return labeled


def as_arrays(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """An unbatched ``(image, label)`` split as two arrays (for the classical baseline and export samples)."""
    images, labels = [], []
    for image_batch, label_batch in dataset.batch(1024):
        images.append(image_batch.numpy())
        labels.append(label_batch.numpy())
    return np.concatenate(images), np.concatenate(labels)


def _from_tfds(name: str, image_size: int) -> LabeledData:
    builder = tfds_source.prepared_builder(name)
    features = builder.info.features
    image_key = next((k for k, f in features.items() if isinstance(f, tfds.features.Image)), None)
    label_key = next((k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)), None)
    if image_key is None or label_key is None:
        raise UserError(
            f"TFDS dataset '{name}' has no image and class-label features; pick an image classification dataset"
        )
    split_names = tfds_source.three_way_splits(builder, name)

    def decode(example):
        return resize_image(example[image_key], image_size), tf.cast(example[label_key], tf.int64)

    datasets = [
        builder.as_dataset(split=split, shuffle_files=False).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        for split in split_names
    ]
    sizes = {
        key: builder.info.splits[split].num_examples for key, split in zip(("train", "validation", "test"), split_names)
    }
    cache = sum(sizes.values()) * image_size * image_size * 3 < _CACHE_LIMIT_BYTES
    return LabeledData(
        *datasets, class_names=list(features[label_key].names), sizes=sizes, description=f"tfds:{name}", cache=cache
    )


def read_image(path: pathlib.Path) -> np.ndarray | None:
    """Decodes any image OpenCV reads into uint8 RGB, or returns None when it cannot."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return None
    if image.dtype == np.uint16:
        image = (image / 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def list_class_files(
    root: pathlib.Path, extensions: tuple[str, ...], kind: str
) -> tuple[list[str], list[pathlib.Path], np.ndarray]:
    """Lists ``root/<class>/<file>`` with the given extensions; classes sorted by name."""
    class_dirs = checks.class_folders(root, kind)
    class_names, paths, labels = [], [], []
    for class_dir in class_dirs:
        files = sorted(
            p
            for p in class_dir.rglob("*")
            if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith(".")
        )
        if not files:
            logging.warning("class folder %s has no %s files (%s); ignored", class_dir, kind, ", ".join(extensions))
            continue
        label = len(class_names)
        class_names.append(class_dir.name)
        paths.extend(files)
        labels.extend([label] * len(files))
    if not paths:
        raise UserError(f"no {kind} files ({', '.join(extensions)}) found in the class sub-folders of '{root}'")
    return class_names, paths, np.asarray(labels, np.int64)


def _from_folder(root: pathlib.Path, image_size: int, seed: int, group_pattern: str, split_files: str) -> LabeledData:
    class_names, paths, labels = list_class_files(root, formats.IMAGE_EXTENSIONS, "image")
    images = np.zeros((len(paths), image_size, image_size, 3), np.uint8)
    keep = np.zeros(len(paths), bool)
    workers = min(8, (os.cpu_count() or 2) * 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        decoded = pool.map(read_image, paths)
        for index, image in enumerate(tqdm.tqdm(decoded, total=len(paths), desc="reading images", unit="img")):
            if image is not None:
                images[index] = resize_image(image, image_size).numpy()
                keep[index] = True
    skipped = [str(p) for p, ok in zip(paths, keep) if not ok]
    if skipped:
        logging.warning(
            "skipped %d unreadable image file(s) of %d, e.g. %s", len(skipped), len(paths), ", ".join(skipped[:3])
        )
    images, labels = images[keep], labels[keep]
    paths = [path for path, ok in zip(paths, keep) if ok]
    counts = {name: int((labels == i).sum()) for i, name in enumerate(class_names)}
    splits.check_classes(class_names, {k: v for k, v in counts.items() if v}, f"'{root}'")
    folder_split = groups.split_folder(root, paths, labels, seed, group_pattern, split_files, kind="image")
    parts = folder_split.parts
    datasets = [tf.data.Dataset.from_tensor_slices((images[idx], labels[idx])) for idx in parts]
    sizes = dict(zip(("train", "validation", "test"), (len(idx) for idx in parts)))
    logging.info("folder %s: %d images in %d classes; %s", root, len(labels), len(class_names), folder_split.describe())
    return LabeledData(
        *datasets,
        class_names=class_names,
        sizes=sizes,
        description=str(root),
        split_rows=folder_split.rows(root, paths, class_names, labels),
    )
