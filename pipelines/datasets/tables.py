"""Labelled CSV/TSV files for the text pipeline, read without TensorFlow.

``TextConfig.validate`` calls :func:`check_labelled_table`, so a file with one class, missing columns
or broken UTF-8 fails in a fraction of a second, before TensorFlow loads; the loader
(``text_sources.from_table``) reads the same file through the same :func:`read_labelled_table`,
which keeps the last file it parsed, so the check does not cost a second parse.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import logging
import pathlib
import re

import numpy as np

from common.errors import UserError
from pipelines.datasets import splits

# A quoted field that runs on for more physical lines than this is a stray quote, not a paragraph.
_MAX_LINES_PER_RECORD = 50


@dataclasses.dataclass(frozen=True)
class LabelledTable:
    """The filled-in (text, label) rows of a table, and how many rows were left out."""

    texts: tuple[str, ...]
    raw_labels: tuple[str, ...]
    empty_rows: int
    malformed_rows: int


def check_labelled_table(dataset: str, text_column: str, label_column: str) -> None:
    """Refuses a CSV/TSV ``DATASET`` that cannot train a classifier, in the loader's words.

    Args:
        dataset: the ``DATASET`` value; anything but an existing file (embedded, ``tfds:NAME``, a folder,
            a missing path) passes here and is checked by the loader.
    """
    if not dataset or dataset.startswith("tfds:"):
        return
    path = pathlib.Path(dataset).expanduser()
    if not path.is_file():
        return
    table = read_labelled_table(path, text_column, label_column)
    labels, class_names = class_ids(table.raw_labels)
    counts = {name: int((labels == index).sum()) for index, name in enumerate(class_names)}
    splits.check_classes(class_names, counts, f"'{path}'")


def read_labelled_table(path: pathlib.Path, text_column: str, label_column: str) -> LabelledTable:
    """The rows of a CSV or TSV file with a header row; ``text_column`` and ``label_column`` name the columns.

    Raises:
        UserError: unreadable, not UTF-8, NUL bytes, no header, a missing column, no filled-in rows.
    """
    status = path.stat()
    return _read_labelled_table(str(path), text_column, label_column, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=1)
def _read_labelled_table(name: str, text_column: str, label_column: str, modified_ns: int, size: int) -> LabelledTable:
    """Cached by path, columns, modification time and size: ``validate`` and the loader read the file once."""
    path = pathlib.Path(name)
    text = decode_utf8(read_bytes(path), f"'{path}'")
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
    return LabelledTable(tuple(texts), tuple(raw_labels), empty, malformed)


def class_ids(raw_labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Maps label strings to ids; integer labels sort numerically (0, 1, 2, 10), others by name."""
    names = sorted(set(raw_labels))
    if all(re.fullmatch(r"[+-]?\d+", name) for name in names):
        names = sorted(names, key=int)
    index = {name: i for i, name in enumerate(names)}
    return np.asarray([index[label] for label in raw_labels], np.int64), names


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


def read_bytes(path: pathlib.Path) -> bytes:
    """The bytes of ``path``, or a UserError that says why it cannot be read."""
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
