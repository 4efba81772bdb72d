"""Reading datasets through TFDS: the embedded builders and ``tfds:NAME``, failing fast offline."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
import sys

import tensorflow_datasets as tfds

from common import network
from common.errors import UserError
from pipelines.datasets.embedded import (  # noqa: F401 - each registers its builder with TFDS on import
    chinese_reference,
    chinese_sentences,
    moving_shapes,
    shapes_images,
)

# TFDS's progress bars while it generates a dataset, in a terminal only: written to a log they are a
# wall of carriage returns. The project's own line says what is being prepared.
if not sys.stderr.isatty():
    tfds.disable_progress_bar()

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "tfds"


def data_dir() -> pathlib.Path:
    """Where datasets are generated and read: ``$TFDS_DATA_DIR`` or ``<project>/data/tfds``."""
    return pathlib.Path(os.environ.get("TFDS_DATA_DIR", DEFAULT_DATA_DIR))


def _candidate_dirs() -> list[pathlib.Path]:
    dirs = [data_dir(), pathlib.Path.home() / "tensorflow_datasets"]
    return list(dict.fromkeys(dirs))


def check_tfds_dataset(name: str) -> None:
    """Refuses a ``DATASET=tfds:NAME`` that is unknown, or neither prepared locally nor downloadable.

    Needs no TensorFlow (TFDS finds builders and prepared files without it): the configs call it from
    ``validate`` so that such a mistake fails in a second, before TensorFlow loads. The loaders check
    again through :func:`prepared_builder`, in the same words.

    Raises:
        UserError: unknown name, or not prepared and no network.
    """
    _available_builder(name)


def prepared_builder(name: str) -> tfds.core.DatasetBuilder:
    """Returns a prepared builder for ``name`` (``dataset[/config][:version]``).

    Embedded builders are generated on first use. A public dataset that is not prepared in any
    known data dir is downloaded when the network answers, and otherwise fails within seconds.

    Raises:
        UserError: unknown name, or not prepared and no network.
    """
    builder = _available_builder(name)
    if is_prepared(builder):
        return builder
    with _preparation_lock(builder):
        # Another process (two pipelines started at once on a fresh clone, parallel tests) may have
        # prepared it while this one waited for the lock: a fresh builder sees its files.
        builder = tfds.builder(name, data_dir=str(data_dir()))
        if not is_prepared(builder):
            logging.info("preparing TFDS dataset %s in %s (once)", name, builder.data_dir)
            builder.download_and_prepare()
    return builder


def is_prepared(builder: tfds.core.DatasetBuilder) -> bool:
    """Whether ``builder``'s version is prepared in its data dir: ``builder.is_prepared()`` without the
    "Variant folder ... has no dataset_info.json" warning TFDS logs for every dir that does not have it yet."""
    return (pathlib.Path(builder.data_path) / "dataset_info.json").exists()


def _available_builder(name: str) -> tfds.core.DatasetBuilder:
    """The builder of the first known data dir where ``name`` is prepared, else one for :func:`data_dir`
    that can prepare it (an embedded builder, or a public dataset with the network up)."""
    try:
        for directory in _candidate_dirs():
            builder = tfds.builder(name, data_dir=str(directory))
            if is_prepared(builder):
                return builder
        builder = tfds.builder(name, data_dir=str(data_dir()))
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(
            f"unknown TFDS dataset '{name}': check the name in the TFDS catalogue "
            "(tfds.list_builders()), e.g. DATASET=tfds:mnist"
        ) from None
    except ValueError as error:  # e.g. an unknown config name
        raise UserError(f"TFDS dataset '{name}': {str(error).splitlines()[0]}") from None
    if not _is_local_builder(builder) and not network.downloads_reachable():
        raise UserError(
            f"TFDS dataset '{name}' is not prepared under {data_dir()} or ~/tensorflow_datasets "
            "and the network is unreachable: prepare it on a connected machine "
            f"(tfds build {name.split(':')[0]}) and copy it there, or set TFDS_DATA_DIR"
        )
    return builder


@contextlib.contextmanager
def _preparation_lock(builder: tfds.core.DatasetBuilder):
    """An exclusive lock per dataset across processes (``fcntl.flock``, released if a process dies):
    TFDS writes a dataset into a temporary folder renamed at the end, and two processes preparing
    the same one at the same time break each other's files."""
    lock_path = data_dir() / f".{builder.name}.prepare.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _is_local_builder(builder: tfds.core.DatasetBuilder) -> bool:
    """True for the project's own generated builders, which need no network."""
    return type(builder).__module__.startswith("pipelines.")


def three_way_splits(builder: tfds.core.DatasetBuilder, name: str) -> list[str]:
    """TFDS split names for (train, validation, test), carving the missing ones out of ``train``."""
    available = set(builder.info.splits)
    if {"train", "validation", "test"} <= available:
        return ["train", "validation", "test"]
    if {"train", "test"} <= available:
        return ["train[:90%]", "train[90%:]", "test"]
    if "train" in available:
        return ["train[:80%]", "train[80%:90%]", "train[90%:]"]
    raise UserError(f"TFDS dataset '{name}' has no 'train' split (it has: {', '.join(sorted(available))})")
