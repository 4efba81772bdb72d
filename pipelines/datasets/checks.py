"""The ``DATASET`` checks the configs run from ``validate``, before TensorFlow loads.

A mistyped path, a folder without class sub-folders or an unknown ``tfds:NAME`` fails in a fraction
of a second; the loaders (``image_sources``, ``video_sources``, ``tfds_source``) use the same
functions, so the messages are the same.
"""

from __future__ import annotations

import pathlib

from common.errors import UserError


def check_folder_dataset(dataset: str, kind: str) -> None:
    """Refuses a ``DATASET`` path that does not exist or a folder without class sub-folders, in the
    loaders' words. Needs no TensorFlow: the configs call it from ``validate`` so that such a mistake
    fails in a fraction of a second, before TensorFlow loads (the loaders check again in process).

    Args:
        dataset: the ``DATASET`` value; '' (embedded) and ``tfds:NAME`` are not paths and pass.
        kind: ``image`` or ``video`` (folders of class sub-folders only).
    """
    if not dataset or dataset.startswith("tfds:"):
        return
    path = pathlib.Path(dataset).expanduser()
    if not path.exists():
        raise UserError(f"dataset path '{dataset}' does not exist: give a folder of class sub-folders or tfds:NAME")
    if path.is_dir():
        class_folders(path, kind)


def class_folders(root: pathlib.Path, kind: str) -> list[pathlib.Path]:
    """The class sub-folders of a folder dataset, sorted by name; a UserError when it has none."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise UserError(
            f"'{root}' has no class sub-folders: put each class's {kind} files in a sub-folder named after it"
        )
    return class_dirs


def check_tfds_name(dataset: str) -> None:
    """Refuses a ``DATASET=tfds:NAME`` that TFDS does not know, or that is neither prepared nor
    downloadable; other values pass. TFDS looks names up without TensorFlow, so the mistake fails in a
    second, not ten."""
    if dataset.startswith("tfds:"):
        # Deferred: tensorflow_datasets is imported only for a tfds: value.
        from pipelines.datasets import tfds_source

        tfds_source.check_tfds_dataset(dataset[len("tfds:") :])
