"""The character-level text generator's config: data, model, training and generation settings, and the presets.

make train-textgen                    # embedded Chinese sentences, GRU 256, 12 epochs, about 5 minutes
make train-textgen PRESET=tiny        # seconds; smoke test
"""

from __future__ import annotations

import dataclasses

from common import config as config_lib
from common.errors import UserError
from models.cells import GENERATOR_CELLS as CELLS
from pipelines.configs import shared


@dataclasses.dataclass(frozen=True)
class TextGenDataConfig:
    dataset: str = dataclasses.field(
        default="", metadata={"help": "'' (embedded Chinese sentences), a .txt file or folder, a CSV/TSV, or tfds:NAME"}
    )
    text_column: str = dataclasses.field(default="text", metadata={"help": "CSV/TSV column holding the text"})
    sequence_length: int = dataclasses.field(default=64, metadata={"help": "characters per training window"})
    max_train_characters: int = dataclasses.field(default=0, metadata={"help": "cap on training text; 0 = all"})


@dataclasses.dataclass(frozen=True)
class TextGenModelConfig:
    """What ``models.char_rnn.build_char_rnn`` reads, and the vocabulary's bounds."""

    cell: str = dataclasses.field(default="gru", metadata={"help": "gru or lstm"})
    units: tuple[int, ...] = dataclasses.field(
        default=(256,), metadata={"help": "units per recurrent layer, e.g. 256 or 256,256"}
    )
    embedding_dim: int = 64
    dropout: float = 0.0
    max_characters: int = dataclasses.field(default=5000, metadata={"help": "vocabulary size cap, [UNK] included"})
    min_count: int = dataclasses.field(
        default=2,
        metadata={"help": "rarer training characters become [UNK] (so the model learns how often unseen ones come)"},
    )


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """The export's sampling defaults and the samples written to the run folder."""

    length: int = dataclasses.field(default=100, metadata={"help": "export default: characters generated per call"})
    temperature: float = dataclasses.field(default=0.8, metadata={"help": "export default: sampling temperature"})
    top_k: int = dataclasses.field(default=0, metadata={"help": "export default for serving_default: 0 = no limit"})
    context_characters: int = dataclasses.field(
        default=256, metadata={"help": "trailing prompt characters the generator reads"}
    )
    sample_temperatures: tuple[float, ...] = dataclasses.field(
        default=(0.2, 0.5, 0.8, 1.0, 1.2), metadata={"help": "temperatures of the samples written to the run folder"}
    )
    sample_length: int = 120


@dataclasses.dataclass(frozen=True)
class TextGenConfig:
    """Every setting of the text-generation pipeline (presets below; override with --setting or --set)."""

    data: TextGenDataConfig = TextGenDataConfig()
    model: TextGenModelConfig = TextGenModelConfig()
    training: shared.TrainingConfig = shared.TrainingConfig(epochs=12, batch_size=64, learning_rate=3e-3, patience=3)
    generation: GenerationConfig = GenerationConfig()
    seed: int = 0

    def validate(self) -> None:
        data, model, generation = self.data, self.model, self.generation
        if model.cell not in CELLS:
            raise UserError(f"cell must be one of {', '.join(CELLS)}, got '{model.cell}'")
        if not model.units or any(u <= 0 for u in model.units):
            raise UserError("units must be a comma-separated list of positive integers, e.g. 256 or 256,256")
        if model.embedding_dim < 1 or data.sequence_length < 2 or model.max_characters < 3 or model.min_count < 1:
            raise UserError("embedding_dim and min_count must be positive, sequence_length >= 2, max_characters >= 3")
        self.training.check()
        if not 0 <= model.dropout < 1:
            raise UserError("dropout must be in [0, 1)")
        if (
            generation.length < 0
            or generation.top_k < 0
            or generation.context_characters < 1
            or generation.sample_length < 0
        ):
            raise UserError("length, top_k and sample_length must be >= 0 and context_characters positive")


PRESETS = {
    "default": TextGenConfig(),
    # A run of seconds for smoke tests: a small GRU on 20k characters, two epochs.
    "tiny": config_lib.replace(
        TextGenConfig(),
        units=(32,),
        embedding_dim=16,
        sequence_length=32,
        epochs=2,
        batch_size=32,
        learning_rate=1e-2,
        max_train_characters=20_000,
        patience=1,
        length=40,
        sample_temperatures=(0.2, 1.0),
        sample_length=40,
    ),
}
