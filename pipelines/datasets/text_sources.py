"""Text classification sources: the embedded Chinese sentences, CSV/TSV files, folders of ``.txt``, ``tfds:NAME``.

Every source ends as in-memory arrays of UTF-8 strings and int64 class ids per split (text
datasets fit in memory; the vocabulary and the TF-IDF baseline need the raw training text
anyway), turned into unbatched ``tf.data`` datasets of ``(text, label)`` by :meth:`TextData.dataset`.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from common import formats
from common.errors import UserError
from pipelines.datasets import groups, image_sources, splits, tables, tfds_source
from pipelines.datasets.embedded import chinese_reference

SPLIT_NAMES = ("train", "validation", "test")


@dataclasses.dataclass
class TextData:
    """Texts (object arrays of str) and int64 labels per split, plus what describes them."""

    texts: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    class_names: list[str]
    description: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    split_rows: list[dict] | None = None  # folders: file, class, group and split of every file

    @property
    def sizes(self) -> dict[str, int]:
        return {split: int(len(self.labels[split])) for split in SPLIT_NAMES}

    def dataset(self, split: str) -> tf.data.Dataset:
        """Unbatched ``(text string scalar, int64 label)`` pairs of one split."""
        texts = tf.constant(list(self.texts[split]), dtype=tf.string, shape=[len(self.texts[split])])
        return tf.data.Dataset.from_tensor_slices((texts, self.labels[split]))


def embedded_name(distance: int = chinese_reference.DEFAULT_DISTANCE) -> str:
    """The TFDS name of the embedded dataset with ``distance`` distractor characters."""
    if distance not in chinese_reference.DISTANCES:
        choices = ", ".join(str(d) for d in chinese_reference.DISTANCES)
        raise UserError(f"the embedded dataset has distances {choices}; got {distance}")
    return f"chinese_reference/distance_{distance}"


def load(settings, seed: int = 0) -> TextData:
    """Resolves the data settings (``pipelines.configs.text.TextDataConfig``) into labelled splits.

    ``settings.dataset`` is empty (the embedded sentences, at ``distance``), ``tfds:NAME``, a CSV/TSV
    file (``text_column``, ``label_column``) or a folder; folders are split by group where groups are
    known (:mod:`pipelines.datasets.groups`). ``max_train_examples`` caps the training split.
    """
    dataset, max_train_examples = settings.dataset, settings.max_train_examples
    if not dataset:
        data = from_tfds(embedded_name(settings.distance))
    elif dataset.startswith("tfds:"):
        data = from_tfds(dataset[len("tfds:") :])
    else:
        path = pathlib.Path(dataset).expanduser()
        if not path.exists():
            raise UserError(
                f"dataset path '{dataset}' does not exist: give a CSV/TSV file, a folder of class sub-folders "
                "of .txt files, or tfds:NAME"
            )
        if path.is_dir():
            data = from_folder(path, seed, settings.group_pattern, settings.split_files)
        else:
            data = from_table(path, settings.text_column, settings.label_column, seed)
    if max_train_examples and data.sizes["train"] > max_train_examples:
        keep = np.sort(np.random.default_rng(seed).choice(data.sizes["train"], max_train_examples, replace=False))
        data.texts["train"], data.labels["train"] = data.texts["train"][keep], data.labels["train"][keep]
    return data


def _split(
    texts: list[str], labels: np.ndarray, class_names: list[str], source: str, seed: int, skipped, split_of=None
) -> TextData:
    """Splits the texts; ``split_of(labels)`` gives the parts (folders: by group), else stratified by example."""
    counts = {name: int((labels == i).sum()) for i, name in enumerate(class_names)}
    splits.check_classes(class_names, counts, source)
    texts_array = np.asarray(texts, dtype=object)
    parts = split_of(labels) if split_of else splits.stratified_split(labels, seed=seed)
    data = TextData(
        texts={split: texts_array[index] for split, index in zip(SPLIT_NAMES, parts)},
        labels={split: labels[index] for split, index in zip(SPLIT_NAMES, parts)},
        class_names=class_names,
        description=source,
        skipped=skipped,
    )
    logging.info("%s: %d texts in %d classes, split %s", source, len(texts), len(class_names), data.sizes)
    return data


# --- CSV / TSV -------------------------------------------------------------------------------


def from_table(path: pathlib.Path, text_column: str, label_column: str, seed: int = 0) -> TextData:
    """A CSV or TSV file with a header row; ``text_column`` and ``label_column`` name the columns."""
    table = tables.read_labelled_table(path, text_column, label_column)
    labels, class_names = tables.class_ids(table.raw_labels)
    skipped = {"empty_rows": table.empty_rows, "malformed_rows": table.malformed_rows}
    return _split(list(table.texts), labels, class_names, f"'{path}'", seed, skipped)


# --- folder of class folders -----------------------------------------------------------------


def from_folder(root: pathlib.Path, seed: int = 0, group_pattern: str = "", split_files: str = "") -> TextData:
    """``root/<class>/*.txt``: one example per file, split by group where groups are known."""

    class_names, paths, labels = image_sources.list_class_files(root, formats.TEXT_EXTENSIONS, "text")
    texts, keep = [], []
    for path in paths:
        sample = tables.decode_utf8(tables.read_bytes(path), f"'{path}'").strip()
        keep.append(bool(sample))
        if sample:
            texts.append(sample)
    keep = np.asarray(keep)
    if not keep.all():
        logging.warning("%s: skipped %d empty .txt file(s)", root, int((~keep).sum()))
    labels = labels[keep]
    present = [i for i, name in enumerate(class_names) if (labels == i).any()]
    remap = np.full(len(class_names), -1, np.int64)
    remap[present] = np.arange(len(present))
    class_names = [class_names[i] for i in present]
    paths = [path for path, ok in zip(paths, keep) if ok]
    found = {}

    def split_of(labels):
        found["split"] = groups.split_folder(root, paths, labels, seed, group_pattern, split_files, kind="text file")
        logging.info("%s", found["split"].describe())
        return found["split"].parts

    data = _split(texts, remap[labels], class_names, f"'{root}'", seed, {"empty_files": int((~keep).sum())}, split_of)
    data.split_rows = found["split"].rows(root, paths, class_names, remap[labels])
    return data


# --- TFDS (the embedded dataset, tfds:imdb_reviews, ...) -----------------------------------------


def _is_text(feature) -> bool:
    return isinstance(feature, tfds.features.Text) or (
        isinstance(feature, tfds.features.Tensor) and feature.dtype == np.object_ and feature.shape == ()
    )


def from_tfds(name: str, seed: int = 0) -> TextData:
    builder = tfds_source.prepared_builder(name)
    features = builder.info.features
    text_key = next((k for k, f in features.items() if _is_text(f)), None)
    supervised = builder.info.supervised_keys
    if supervised and len(supervised) == 2 and isinstance(supervised[0], str) and _is_text(features[supervised[0]]):
        text_key = supervised[0]
    label_key = next((k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)), None)
    if text_key is None or label_key is None:
        raise UserError(
            f"TFDS dataset '{name}' has no text and class-label features; pick a text classification dataset "
            "such as tfds:imdb_reviews"
        )
    available = set(builder.info.splits)
    if "train" not in available:
        raise UserError(f"TFDS dataset '{name}' has no 'train' split (it has: {', '.join(sorted(available))})")

    def arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
        # Both features are scalars: read in batches (one example at a time costs seconds per 10,000).
        pairs = builder.as_dataset(split=split, shuffle_files=False).map(lambda e: (e[text_key], e[label_key]))
        texts, labels = [], []
        for text_batch, label_batch in tfds.as_numpy(pairs.batch(4096)):
            texts.extend(text.decode("utf-8", errors="replace") for text in text_batch)
            labels.append(label_batch)
        return np.asarray(texts, dtype=object), np.concatenate(labels or [np.zeros(0)]).astype(np.int64)

    class_names = list(features[label_key].names)
    data = TextData({}, {}, class_names, f"tfds:{name}")
    if {"train", "validation", "test"} <= available:
        for split in SPLIT_NAMES:
            data.texts[split], data.labels[split] = arrays(split)
    else:
        texts, labels = arrays("train")
        if "test" in available:
            train, validation, rest = splits.stratified_split(labels, (0.9, 0.1, 0.0), seed=seed)
            train = np.sort(np.concatenate([train, rest]))  # the split keeps >= 1 per class in its third part
            data.texts["test"], data.labels["test"] = arrays("test")
        else:
            train, validation, test = splits.stratified_split(labels, seed=seed)
            data.texts["test"], data.labels["test"] = texts[test], labels[test]
        data.texts["train"], data.labels["train"] = texts[train], labels[train]
        data.texts["validation"], data.labels["validation"] = texts[validation], labels[validation]
    logging.info("tfds:%s: text %r, label %r, classes %s, split %s", name, text_key, label_key, class_names, data.sizes)
    return data
