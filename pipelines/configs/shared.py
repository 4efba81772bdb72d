"""Settings every pipeline shares: the training schedule and the folder sources' grouping."""

from __future__ import annotations

import dataclasses
from typing import Any

from common.errors import UserError


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """What ``pipelines.training.trainer.fit`` reads; each pipeline sets its own defaults."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = dataclasses.field(default=5, metadata={"help": "early-stopping patience in epochs"})

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise UserError("epochs and batch_size must be positive")


def group_pattern_field() -> Any:
    """The ``group_pattern`` setting of the folder sources (see ``pipelines.datasets.groups``)."""
    return dataclasses.field(
        default="",
        metadata={"help": "folders: regex whose first capture group, searched in a file name, is its group"},
    )


def split_files_field() -> Any:
    """The ``split_files`` setting of the folder sources (see ``pipelines.datasets.groups``)."""
    return dataclasses.field(
        default="", metadata={"help": "folders: TRAIN.txt,TEST.txt in UCF101's trainlist/testlist format"}
    )
