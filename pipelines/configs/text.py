"""The text classifier's config: data, model and training settings, and the presets.

make train-text                       # embedded Chinese sentences (distance 40), GRU: test 1.000, ~100 s
make train-text PRESET=tiny           # ~45 s with export; smoke test
"""

from __future__ import annotations

import dataclasses

from common import config as config_lib
from common.errors import UserError
from models.cells import TEXT_CELLS as CELLS
from pipelines.configs import shared
from pipelines.datasets import checks, groups, tables


@dataclasses.dataclass(frozen=True)
class TextDataConfig:
    dataset: str = dataclasses.field(
        default="", metadata={"help": "'' (embedded Chinese sentences), tfds:NAME, a CSV/TSV file or a folder"}
    )
    group_pattern: str = shared.group_pattern_field()
    split_files: str = shared.split_files_field()
    distance: int = dataclasses.field(
        default=40, metadata={"help": "embedded dataset only: distractor characters (5, 10, 20, 40, 80 or 160)"}
    )
    text_column: str = dataclasses.field(default="text", metadata={"help": "CSV/TSV column holding the text"})
    label_column: str = dataclasses.field(default="label", metadata={"help": "CSV/TSV column holding the label"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training examples; 0 = all"})


@dataclasses.dataclass(frozen=True)
class TextModelConfig:
    """What ``models.text_rnn.build_text_classifier`` reads (``tokenize`` resolved from the training text)."""

    tokenize: str = dataclasses.field(
        default="auto", metadata={"help": "word, character, or auto (character when the text is CJK)"}
    )
    max_tokens: int = dataclasses.field(default=20000, metadata={"help": "vocabulary size, padding and OOV included"})
    max_length: int = dataclasses.field(default=200, metadata={"help": "tokens kept per text (the rest is cut)"})
    cell: str = dataclasses.field(default="gru", metadata={"help": "gru, lstm or simple_rnn"})
    units: tuple[int, ...] = dataclasses.field(
        default=(64,), metadata={"help": "units per recurrent layer, e.g. 64,64"}
    )
    ngrams: int = dataclasses.field(
        default=2, metadata={"help": "1: single tokens; 2: also every pair of neighbours as a token (bigrams)"}
    )
    bidirectional: bool = dataclasses.field(default=True, metadata={"help": "read the text both ways"})
    head: str = dataclasses.field(
        default="pooled",
        metadata={"help": "pooled: final state + max and mean over the steps; last: the final state only"},
    )
    wide: bool = dataclasses.field(
        default=True,
        metadata={"help": "Wide & Deep: add a bag-of-n-grams (TF-IDF) linear branch's logits to the RNN's"},
    )
    wide_max_tokens: int = dataclasses.field(default=30000, metadata={"help": "n-grams in the wide branch"})
    wide_l2: float = dataclasses.field(default=0.0, metadata={"help": "L2 penalty on the wide branch's weights"})
    embedding_dim: int = 64
    embedding_dropout: float = dataclasses.field(
        default=0.2, metadata={"help": "share of embedding channels dropped (SpatialDropout1D)"}
    )
    dropout: float = 0.3


@dataclasses.dataclass(frozen=True)
class TextConfig:
    """Every setting of the text pipeline (presets below; override with --setting or --set)."""

    data: TextDataConfig = TextDataConfig()
    model: TextModelConfig = TextModelConfig()
    training: shared.TrainingConfig = shared.TrainingConfig(epochs=8, batch_size=64, learning_rate=1e-3, patience=3)
    seed: int = 0

    def validate(self) -> None:
        data, model = self.data, self.model
        groups.check_pattern(data.group_pattern)
        if model.cell not in CELLS:
            raise UserError(f"cell must be one of {', '.join(CELLS)}, got '{model.cell}'")
        if model.tokenize not in ("auto", "word", "character"):
            raise UserError(f"tokenize must be auto, word or character, got '{model.tokenize}'")
        if not model.units or any(u <= 0 for u in model.units):
            raise UserError("units must be a comma-separated list of positive integers, e.g. 64 or 64,64")
        if model.max_tokens < 3 or model.max_length < 1 or model.embedding_dim < 1:
            raise UserError("max_tokens must be at least 3; max_length and embedding_dim positive")
        self.training.check()
        if not 0 <= model.dropout < 1 or not 0 <= model.embedding_dropout < 1:
            raise UserError("dropout and embedding_dropout must be in [0, 1)")
        if model.head not in ("last", "pooled"):
            raise UserError(f"head must be last or pooled, got '{model.head}'")
        if model.wide_max_tokens < 2 or model.wide_l2 < 0:
            raise UserError("wide_max_tokens must be at least 2 and wide_l2 not negative")
        if model.ngrams not in (1, 2, 3):
            raise UserError(f"ngrams must be 1, 2 or 3, got {model.ngrams}")
        # The data checks last, after the settings, before TensorFlow loads.
        tables.check_labelled_table(data.dataset, data.text_column, data.label_column)
        checks.check_tfds_name(data.dataset)


PRESETS = {
    "default": TextConfig(),
    # A run of seconds for smoke tests: a small bidirectional GRU with the default head and bigrams,
    # 3000 sentences at distance 5, three epochs.
    "tiny": config_lib.replace(
        TextConfig(),
        distance=5,
        units=(32,),
        embedding_dim=32,
        max_tokens=2000,
        max_length=80,
        epochs=3,
        batch_size=32,
        learning_rate=1e-2,
        max_train_examples=3000,
        patience=2,
    ),
}
