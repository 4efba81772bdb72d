"""The budget of ``make compare-rnn`` (every cell trained alike at every distance), and the presets.

make compare-rnn                      # cells x distances 5,20,40,80 on the embedded dataset, ~9 min
make compare-rnn PRESET=tiny          # seconds; smoke test
"""

from __future__ import annotations

import dataclasses

from common.errors import UserError
from models.cells import TEXT_CELLS
from pipelines.datasets.embedded import chinese_reference


@dataclasses.dataclass(frozen=True)
class CompareConfig:
    """The shared budget of the comparison (presets below; override with --field or --set)."""

    cells: tuple[str, ...] = dataclasses.field(default=("simple_rnn", "lstm", "gru"), metadata={"help": "cells"})
    distances: tuple[int, ...] = dataclasses.field(
        default=(5, 20, 40, 80), metadata={"help": "embedded dataset distances, from 5,10,20,40,80,160"}
    )
    units: int = dataclasses.field(default=64, metadata={"help": "recurrent units, the same for every cell"})
    embedding_dim: int = 32
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 3e-3
    max_train_examples: int = dataclasses.field(default=6000, metadata={"help": "training sentences per run"})
    seed: int = 0

    def validate(self) -> None:
        unknown = [cell for cell in self.cells if cell not in TEXT_CELLS]
        if not self.cells or unknown:
            raise UserError(f"cells must be among {', '.join(TEXT_CELLS)}")
        bad = [d for d in self.distances if d not in chinese_reference.DISTANCES]
        if not self.distances or bad:
            raise UserError(f"distances must be among {', '.join(map(str, chinese_reference.DISTANCES))}")
        if self.units < 1 or self.epochs < 1 or self.batch_size < 1 or self.max_train_examples < 8:
            raise UserError("units, epochs, batch_size must be positive and max_train_examples at least 8")


PRESETS = {
    "default": CompareConfig(),
    # Seconds: two short distances, one epoch, narrow cells.
    "tiny": CompareConfig(distances=(5, 10), units=8, embedding_dim=8, epochs=1, max_train_examples=300),
}
