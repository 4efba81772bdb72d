"""Honest splits for folders: no group (one person, scene or recording) in two of train/validation/test.

A random split of a folder puts clips of one recording on both sides, and the test accuracy then
measures recognition of the backdrop. The group of a file comes from, in order:

1. ``split_files="TRAIN.txt,TEST.txt"``: UCF101's ``trainlist01.txt`` / ``testlist01.txt`` format
   (``Class/file.avi [label]`` per line, relative to the folder); validation then comes out of the
   training groups;
2. ``group_pattern=REGEX``: its first capture group, searched in the file name
   (``'^(actor\\d+)_'``, ``'^(person\\d+)_'``);
3. names in UCF101 style (``v_<Class>_g08_c01``: the group is ``g08``, one person in one place,
   across classes as in the official splits) or HMDB51 style
   (``<movie>_<action>_<body>_<camera>_np<N>_<view>_<quality>_<n>``: the group is the movie),
   recognised without a flag when every file is named so.

Without groups the split is by file, as before, with one warning.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re

import numpy as np

from common.errors import UserError
from pipelines.datasets import splits

SPLIT_NAMES = ("train", "validation", "test")
UCF101_NAME = re.compile(r"^v_.+_(g\d+)_c\d+$", re.IGNORECASE)
# HMDB51's tags after "<movie>_<action>": visible body part, camera motion, people, view, quality, clip.
HMDB51_TAGS = re.compile(r"_[fhulo]_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$", re.IGNORECASE)


@dataclasses.dataclass
class FolderSplit:
    """Index arrays per split into the listed files, and what the split was based on."""

    parts: tuple[np.ndarray, np.ndarray, np.ndarray]
    groups: np.ndarray | None  # group name per file (None: split by file)
    method: str

    def rows(self, root: pathlib.Path, paths: list[pathlib.Path], class_names: list[str], labels) -> list[dict]:
        """The assignment of every file, for ``splits.csv`` in the run folder."""
        rows = []
        for split, indices in zip(SPLIT_NAMES, self.parts):
            for index in indices:
                rows.append(
                    {
                        "file": paths[index].relative_to(root).as_posix(),
                        "class": class_names[labels[index]],
                        "group": "" if self.groups is None else str(self.groups[index]),
                        "split": split,
                    }
                )
        return rows

    def describe(self) -> str:
        counts = []
        for split, indices in zip(SPLIT_NAMES, self.parts):
            groups = len(set(self.groups[indices])) if self.groups is not None else len(indices)
            counts.append(f"{split} {groups} group(s) / {len(indices)} file(s)")
        return f"split by {self.method}: " + ", ".join(counts)


def check_pattern(group_pattern: str) -> re.Pattern | None:
    """Compiles ``group_pattern``; a bad regex or one without a capture group is a one-line error."""
    if not group_pattern:
        return None
    try:
        pattern = re.compile(group_pattern)
    except re.error as error:
        raise UserError(f"group_pattern '{group_pattern}' is not a valid regular expression: {error}") from None
    if pattern.groups < 1:
        raise UserError(
            f"group_pattern '{group_pattern}' has no capture group: put the group part in parentheses, "
            r"e.g. '^(actor\d+)_'"
        )
    return pattern


def infer_groups(
    names: list[str], group_pattern: str = "", class_names: list[str] | None = None
) -> tuple[np.ndarray | None, str]:
    """Group names per file stem from ``group_pattern`` or UCF101/HMDB51 naming; (None, '') if none.

    ``class_names`` (the class of each file) lets HMDB51 names drop their action part.
    """
    pattern = check_pattern(group_pattern)
    if pattern is not None:
        matches = [pattern.search(name) for name in names]
        matched = [m.group(1) if m and m.group(1) else None for m in matches]
        if not any(matched):
            raise UserError(
                f"group_pattern '{group_pattern}' matches none of the {len(names)} file names "
                f"(e.g. '{names[0]}'); it is searched in the file name without its extension"
            )
        unmatched = [name for name, group in zip(names, matched) if group is None]
        if unmatched:
            logging.warning(
                "group_pattern matches %d of %d file names; each of the other %d is its own group (e.g. %s)",
                len(names) - len(unmatched),
                len(names),
                len(unmatched),
                unmatched[0],
            )
        groups = [group if group is not None else f"file:{name}" for name, group in zip(names, matched)]
        return np.asarray(groups), f"group_pattern '{group_pattern}'"
    matches = [UCF101_NAME.match(name) for name in names]
    if all(matches):
        return np.asarray([m.group(1).lower() for m in matches]), "UCF101-style names (v_<Class>_gNN_cNN)"
    if all(HMDB51_TAGS.search(name) for name in names):
        movies = []
        for index, name in enumerate(names):
            stem = HMDB51_TAGS.sub("", name)
            action = f"_{class_names[index]}".lower() if class_names else ""
            if action and stem.lower().endswith(action):
                stem = stem[: -len(action)]
            movies.append(stem.lower())
        return np.asarray(movies), "HMDB51-style names (<movie>_<action>_<tags>: the movie)"
    return None, ""


def split_folder(
    root: pathlib.Path,
    paths: list[pathlib.Path],
    labels: np.ndarray,
    seed: int = 0,
    group_pattern: str = "",
    split_files: str = "",
    kind: str = "file",
) -> FolderSplit:
    """Splits the files of a class-folder dataset into train/validation/test, by group where known."""
    labels = np.asarray(labels)
    names = [path.stem for path in paths]
    groups, method = infer_groups(names, group_pattern, [path.relative_to(root).parts[0] for path in paths])
    if split_files:
        return _from_split_files(root, paths, labels, groups, split_files, seed, kind)
    if groups is None:
        logging.warning(
            "no groups found in the %s names: %ss of one recording, person or place may sit on both sides of the "
            "split and inflate the test accuracy (give --group-pattern REGEX or --split-files TRAIN.txt,TEST.txt)",
            kind,
            kind,
        )
        return FolderSplit(splits.stratified_split(labels, seed=seed), None, "file (no groups found)")
    parts = splits.grouped_split(labels, groups, seed=seed)
    split = FolderSplit(parts, groups, method)
    _warn_missing_classes(split, labels)
    return split


def _from_split_files(root, paths, labels, groups, split_files, seed, kind) -> FolderSplit:
    names = [name.strip() for name in split_files.split(",") if name.strip()]
    if len(names) != 2:
        raise UserError(f"split_files expects TRAIN.txt,TEST.txt (two files), got '{split_files}'")
    by_path = {path.relative_to(root).as_posix().lower(): index for index, path in enumerate(paths)}
    by_name = {path.name.lower(): index for index, path in enumerate(paths)}
    chosen = []
    for list_name in names:
        list_path = pathlib.Path(list_name).expanduser()
        if not list_path.is_file():
            raise UserError(f"split file '{list_name}' does not exist")
        entries = [line.split()[0] for line in list_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        indices, missing = [], []
        for entry in entries:
            key = entry.replace("\\", "/").lower()
            index = by_path.get(key, by_name.get(key.rsplit("/", 1)[-1]))
            (missing if index is None else indices).append(entry if index is None else index)
        if missing:
            raise UserError(
                f"split file '{list_name}' names {len(missing)} {kind}(s) that are not under '{root}' "
                f"(or could not be decoded), e.g. {missing[0]}: check the folder or the list"
            )
        if not indices:
            raise UserError(f"split file '{list_name}' lists no {kind}s")
        chosen.append(np.unique(np.asarray(indices, np.int64)))
    train_pool, test = chosen
    if np.intersect1d(train_pool, test).size:
        raise UserError(f"split files '{split_files}' list the same {kind} in both train and test")
    unlisted = len(paths) - len(train_pool) - len(test)
    if unlisted:
        logging.info("%d %s(s) under '%s' are in neither split file and are not used", unlisted, kind, root)
    pool_groups = groups[train_pool] if groups is not None else np.asarray([f"file:{i}" for i in train_pool])
    train_part, validation_part, _ = splits.grouped_split(
        labels[train_pool], pool_groups, fractions=(0.9, 0.1, 0.0), seed=seed
    )
    parts = (np.sort(train_pool[train_part]), np.sort(train_pool[validation_part]), test)
    all_groups = groups if groups is not None else np.asarray([f"file:{i}" for i in range(len(paths))])
    split = FolderSplit(parts, all_groups, f"split files {', '.join(names)}")
    _warn_missing_classes(split, labels)
    return split


def _warn_missing_classes(split: FolderSplit, labels: np.ndarray) -> None:
    present = np.unique(labels)
    for name, indices in zip(SPLIT_NAMES, split.parts):
        missing = np.setdiff1d(present, labels[indices])
        if len(indices) and missing.size:
            logging.warning(
                "the %s split has no example of %d class(es): the groups do not allow it", name, missing.size
            )
