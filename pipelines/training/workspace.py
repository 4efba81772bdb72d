"""Where a training run writes and how it is distributed: what every ``train_and_export`` takes beside its config."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Workspace:
    """The runs root, the export root (None: train and evaluate only), the root of resumable backups
    (None: inside the runs root; a multi-worker job's must be a folder every worker sees) and the
    ``tf.distribute`` strategy (None: the default one). Made before TensorFlow starts."""

    runs_dir: pathlib.Path
    export_dir: pathlib.Path | None = None
    backup_root: pathlib.Path | None = None
    strategy: Any = None

    def __post_init__(self):
        for name in ("runs_dir", "export_dir", "backup_root"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, pathlib.Path):
                object.__setattr__(self, name, pathlib.Path(value))

    def start(self, seed: int):
        """Seeds Python, NumPy and TensorFlow; returns the strategy to train under."""
        import keras  # deferred: a workspace is made before TensorFlow starts
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        return self.strategy or tf.distribute.get_strategy()
