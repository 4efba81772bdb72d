"""Text-generation corpora: the embedded Chinese sentences, ``.txt`` files or folders, a CSV/TSV column, ``tfds:NAME``.

Every source ends as lists of lines (sentences, reviews, paragraphs) per split. Sources without
splits get a seeded 80/10/10 split of their lines, so validation perplexity is measured on lines
the model never trained on. :func:`windows` turns a split into next-character training pairs.
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
from pipelines.datasets import tables, tfds_source
from pipelines.datasets.embedded import chinese_sentences  # noqa: F401  (registers the embedded builder)

SPLIT_NAMES = ("train", "validation", "test")
EMBEDDED_NAME = "chinese_sentences"
# Separates lines in the character stream; generation starts after one, so an empty prompt
# means "the start of a line".
LINE_BREAK = "\n"
_MIN_UNITS = 10


@dataclasses.dataclass
class Corpus:
    """Lines of text per split, and where they came from."""

    lines: dict[str, list[str]]
    description: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        return {split: len(self.lines[split]) for split in SPLIT_NAMES}

    def text(self, split: str) -> str:
        """The split as one character stream: a line break before every line and after the last."""
        return LINE_BREAK + "".join(line + LINE_BREAK for line in self.lines[split])


def load(settings, seed: int = 0) -> Corpus:
    """Resolves the data settings (``pipelines.configs.textgen.TextGenDataConfig``): ``dataset`` empty,
    ``tfds:NAME``, a ``.txt`` file, a folder of them, or a CSV/TSV file (``text_column``);
    ``max_train_characters`` caps the training text."""
    dataset, max_train_characters = settings.dataset, settings.max_train_characters
    if not dataset:
        corpus = from_tfds(EMBEDDED_NAME)
    elif dataset.startswith("tfds:"):
        corpus = from_tfds(dataset[len("tfds:") :])
    else:
        path = pathlib.Path(dataset).expanduser()
        if not path.exists():
            raise UserError(
                f"dataset path '{dataset}' does not exist: give a .txt file, a folder of .txt files, "
                "a CSV/TSV file (with TEXT_COLUMN) or tfds:NAME"
            )
        if path.is_dir():
            corpus = from_folder(path, seed)
        elif path.suffix.lower() in (".csv", ".tsv", ".tab"):
            corpus = from_table(path, settings.text_column, seed)
        else:
            corpus = from_lines(_read_text(path).splitlines(), f"'{path}'", seed)
    if max_train_characters:
        kept, total = [], 0
        for line in corpus.lines["train"]:
            if total >= max_train_characters:
                break
            kept.append(line)
            total += len(line) + 1
        corpus.lines["train"] = kept
    if not corpus.lines["train"]:
        raise UserError(f"{corpus.description} has no training text")
    logging.info("corpus %s: lines per split %s", corpus.description, corpus.sizes)
    return corpus


def _read_text(path: pathlib.Path) -> str:
    text = tables.decode_utf8(tables.read_bytes(path), f"'{path}'")
    if "\x00" in text:
        raise UserError(f"'{path}' contains NUL bytes: it is not a text file")
    return text


def from_lines(raw_lines: list[str], source: str, seed: int = 0, skipped: dict | None = None) -> Corpus:
    """Non-empty lines, split 80/10/10 by a seeded permutation (a text of few lines is cut into chunks first)."""
    lines = [line.strip() for line in raw_lines if line.strip()]
    if not lines:
        raise UserError(f"{source} contains no text")
    if len(lines) < _MIN_UNITS:
        # A few long paragraphs: cut the text into contiguous chunks so every split gets some.
        text = LINE_BREAK.join(lines)
        size = -(-len(text) // _MIN_UNITS)
        lines = [chunk for chunk in (text[i : i + size].strip() for i in range(0, len(text), size)) if chunk]
    order = np.random.default_rng(seed).permutation(len(lines))
    num_validation = max(1, round(0.1 * len(lines)))
    num_test = max(1, round(0.1 * len(lines)))
    num_train = len(lines) - num_validation - num_test
    parts = (order[:num_train], order[num_train : num_train + num_validation], order[num_train + num_validation :])
    return Corpus(
        {split: [lines[i] for i in sorted(part)] for split, part in zip(SPLIT_NAMES, parts)},
        source,
        skipped or {},
    )


def from_folder(root: pathlib.Path, seed: int = 0) -> Corpus:
    """Every ``.txt`` file under ``root`` (recursively), line by line."""
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in formats.TEXT_EXTENSIONS)
    if not paths:
        raise UserError(f"folder '{root}' has no .txt files")
    lines = []
    for path in paths:
        lines.extend(_read_text(path).splitlines())
    return from_lines(lines, f"'{root}' ({len(paths)} .txt files)", seed)


def from_table(path: pathlib.Path, text_column: str, seed: int = 0) -> Corpus:
    """The ``text_column`` of a CSV/TSV file with a header row; other columns are ignored."""
    text = _read_text(path)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    header, rows, malformed = tables.parse_table(text, delimiter)
    columns = [name.strip() for name in header]
    if text_column not in columns:
        raise UserError(
            f"'{path}' has no column {text_column!r}; its columns are {', '.join(repr(c) for c in columns)}: "
            "set TEXT_COLUMN=..."
        )
    index = columns.index(text_column)
    lines = [fields[index] for fields in rows if fields and fields[index].strip()]
    empty = len(rows) - len(lines)
    if empty or malformed:
        logging.warning("%s: skipped %d empty row(s) and %d malformed row(s)", path, empty, malformed)
    return from_lines(
        lines, f"'{path}' column {text_column!r}", seed, {"empty_rows": empty, "malformed_rows": malformed}
    )


def from_tfds(name: str) -> Corpus:
    """The first text feature of a TFDS dataset (the embedded ``chinese_sentences`` or ``tfds:NAME``)."""
    builder = tfds_source.prepared_builder(name)
    features = builder.info.features
    text_key = next((k for k, f in features.items() if isinstance(f, tfds.features.Text)), None)
    if text_key is None:
        raise UserError(f"TFDS dataset '{name}' has no text feature; pick a text dataset such as tfds:imdb_reviews")
    lines = {}
    for split, tfds_split in zip(SPLIT_NAMES, tfds_source.three_way_splits(builder, name)):
        dataset = builder.as_dataset(split=tfds_split, shuffle_files=False)
        texts = (example[text_key].decode("utf-8", errors="replace") for example in tfds.as_numpy(dataset))
        lines[split] = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    return Corpus(lines, "embedded Chinese sentences" if name == EMBEDDED_NAME else f"tfds:{name}")


def windows(token_ids: np.ndarray, sequence_length: int) -> tf.data.Dataset:
    """Unbatched next-character pairs ``(ids[t : t+L], ids[t+1 : t+L+1])`` at every ``L``-th position.

    Args:
        token_ids: the split's character stream as int64 ids, shape (num_characters,).
        sequence_length: ``L``, characters per training example.

    Returns:
        A dataset of ``(inputs, targets)``, both int64 of shape (L,).
    """
    num_windows = (len(token_ids) - 1) // sequence_length
    if num_windows < 1:
        raise UserError(
            f"the text has {len(token_ids)} characters, fewer than sequence_length + 1 = {sequence_length + 1}: "
            "give more text or a smaller --sequence-length"
        )
    starts = np.arange(num_windows)[:, None] * sequence_length + np.arange(sequence_length + 1)[None, :]
    chunks = token_ids[starts]  # (num_windows, L + 1)
    return tf.data.Dataset.from_tensor_slices((chunks[:, :-1], chunks[:, 1:]))
