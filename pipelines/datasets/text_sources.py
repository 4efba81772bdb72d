"""Text classification sources: the embedded Chinese sentences, CSV/TSV files, folders of ``.txt``, ``tfds:NAME``.

Every source ends as in-memory arrays of UTF-8 strings and int64 class ids per split (text
datasets fit in memory; the vocabulary and the TF-IDF baseline need the raw training text
anyway), turned into unbatched ``tf.data`` datasets of ``(text, label)`` by :meth:`TextData.dataset`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import pathlib
import re

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pipelines.datasets import (
    chinese_reference,  # noqa: F401  (registers the embedded builder)
    image_sources,
    splits,
    tfds_source,
)
from pipelines.errors import UserError

TEXT_EXTENSIONS = (".txt",)
SPLIT_NAMES = ("train", "validation", "test")
# A quoted field that runs on for more physical lines than this is a stray quote, not a paragraph.
_MAX_LINES_PER_RECORD = 50


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


def load(
    dataset: str,
    text_column: str = "text",
    label_column: str = "label",
    seed: int = 0,
    max_train_examples: int = 0,
    distance: int = chinese_reference.DEFAULT_DISTANCE,
    group_pattern: str = "",
    split_files: str = "",
) -> TextData:
    """Resolves a ``DATASET`` value (empty, ``tfds:NAME``, a CSV/TSV file or a folder) into labelled splits.

    ``distance`` picks the embedded dataset's config when ``dataset`` is empty. Folders are split by
    group where groups are known (:mod:`pipelines.datasets.groups`).
    """
    if not dataset:
        data = from_tfds(embedded_name(distance))
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
            data = from_folder(path, seed, group_pattern, split_files)
        else:
            data = from_table(path, text_column, label_column, seed)
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


def class_ids(raw_labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Maps label strings to ids; integer labels sort numerically (0, 1, 2, 10), others by name."""
    names = sorted(set(raw_labels))
    if all(re.fullmatch(r"[+-]?\d+", name) for name in names):
        names = sorted(names, key=int)
    index = {name: i for i, name in enumerate(names)}
    return np.asarray([index[label] for label in raw_labels], np.int64), names


# --- CSV / TSV -------------------------------------------------------------------------------


def decode_utf8(data: bytes, source: str) -> str:
    """UTF-8 (optionally with a byte-order mark) → str, or a UserError that says where it breaks."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UserError(
            f"{source} is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}, line {line}): "
            "re-save it as UTF-8"
        ) from None


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read '{path}': {error.strerror or error}") from None


def _delimiter(path: pathlib.Path, header_line: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    return "\t" if header_line.count("\t") > header_line.count(",") else ","


def parse_table(text: str, delimiter: str = ",") -> tuple[list[str], list[list[str]], int]:
    """Parses delimited text with a header row, tolerating what real files contain.

    Quoted fields (with delimiters, doubled quotes and line breaks inside) follow RFC 4180; CRLF
    and LF both end rows. A stray quote that opens a field but never closes it would swallow the
    rest of the file, so a record that spans more than ``_MAX_LINES_PER_RECORD`` lines, or whose
    lines each look like a complete row, is re-read line by line with quotes taken literally.

    Returns:
        The header, the rows (lists of fields), and the number of rows with the wrong number of fields.
    """
    lines = io.StringIO(text, newline="").readlines()
    if not lines:
        return [], [], 0
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    width = len(header)
    consumed: list[str] = []

    def feed():
        for line in lines[1:]:
            consumed.append(line)
            yield line

    def literal(line: str) -> list[str]:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        if len(fields) == width:
            return fields
        fields = line.rstrip("\r\n").split(delimiter)
        return [field.strip().strip('"') for field in fields]

    rows, malformed = [], 0
    reader = csv.reader(feed(), delimiter=delimiter)
    while True:
        consumed.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            row = None
        record_lines = list(consumed)
        if len(record_lines) > 1 and (
            row is None
            or len(record_lines) > _MAX_LINES_PER_RECORD
            or len(row) != width
            or all(len(literal(line)) == width for line in record_lines if line.strip())
        ):
            candidates = [literal(line) for line in record_lines]
        else:
            candidates = [row] if row is not None else []
        for fields in candidates:
            if not any(field.strip() for field in fields):
                rows.append([])  # an empty row: the caller counts it
            elif len(fields) != width:
                malformed += 1
            else:
                rows.append(fields)
    return header, rows, malformed


def from_table(path: pathlib.Path, text_column: str, label_column: str, seed: int = 0) -> TextData:
    """A CSV or TSV file with a header row; ``text_column`` and ``label_column`` name the columns."""
    text = decode_utf8(_read_bytes(path), f"'{path}'")
    if "\x00" in text:
        raise UserError(f"'{path}' contains NUL bytes: it is not a text CSV/TSV file")
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(path, first_line)
    header, rows, malformed = parse_table(text, delimiter)
    if not header:
        raise UserError(f"'{path}' is empty: a CSV/TSV file needs a header row naming the columns")
    columns = [name.strip() for name in header]
    missing = [name for name in (text_column, label_column) if name not in columns]
    if missing:
        raise UserError(
            f"'{path}' has no column {', '.join(repr(m) for m in missing)}; its columns are "
            f"{', '.join(repr(c) for c in columns)}: set TEXT_COLUMN=... and LABEL_COLUMN=..."
        )
    text_index, label_index = columns.index(text_column), columns.index(label_column)
    texts, raw_labels, empty = [], [], 0
    for fields in rows:
        if not fields:
            empty += 1
            continue
        sample, label = fields[text_index].strip(), fields[label_index].strip()
        if not sample or not label:
            empty += 1
            continue
        texts.append(sample)
        raw_labels.append(label)
    if empty or malformed:
        logging.warning(
            "%s: skipped %d empty row(s) and %d row(s) with the wrong number of fields", path, empty, malformed
        )
    if not texts:
        raise UserError(f"'{path}' has no rows with both {text_column!r} and {label_column!r} filled in")
    labels, class_names = class_ids(raw_labels)
    return _split(texts, labels, class_names, f"'{path}'", seed, {"empty_rows": empty, "malformed_rows": malformed})


# --- folder of class folders -----------------------------------------------------------------


def from_folder(root: pathlib.Path, seed: int = 0, group_pattern: str = "", split_files: str = "") -> TextData:
    """``root/<class>/*.txt``: one example per file, split by group where groups are known."""
    from pipelines.datasets import groups

    class_names, paths, labels = image_sources.list_class_files(root, TEXT_EXTENSIONS, "text")
    texts, keep = [], []
    for path in paths:
        sample = decode_utf8(_read_bytes(path), f"'{path}'").strip()
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
