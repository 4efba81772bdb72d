"""Text RNN pipeline: raw strings → TextVectorization → GRU/LSTM/SimpleRNN → export for TF Serving.

make train-text                       # embedded Chinese sentences (distance 40), GRU: test 1.000, ~100 s (2 busy cores)
make train-text CELL=lstm             # the same with an LSTM: test 1.000, ~180 s
make train-text PRESET=tiny           # ~45 s with export; smoke test
make train-text DATASET=../shared/data/text/waimai_10k.csv TEXT_COLUMN=review   # 0.905/0.904, TF-IDF+LR 0.899/0.902
make train-text DATASET=reviews.csv TEXT_COLUMN=review LABEL_COLUMN=label
make train-text DATASET=path/to/folder_of_class_folders_of_txt
make train-text DATASET=tfds:imdb_reviews
python -m pipelines.text --help
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from common.errors import UserError

CELLS = ("gru", "lstm", "simple_rnn")


@dataclasses.dataclass(frozen=True)
class TextConfig:
    """Every setting of the text pipeline (presets below; override with --field or --set)."""

    dataset: str = dataclasses.field(
        default="", metadata={"help": "'' (embedded Chinese sentences), tfds:NAME, a CSV/TSV file or a folder"}
    )
    group_pattern: str = config_lib.group_pattern_field()
    split_files: str = config_lib.split_files_field()
    distance: int = dataclasses.field(
        default=40, metadata={"help": "embedded dataset only: distractor characters (5, 10, 20, 40, 80 or 160)"}
    )
    text_column: str = dataclasses.field(default="text", metadata={"help": "CSV/TSV column holding the text"})
    label_column: str = dataclasses.field(default="label", metadata={"help": "CSV/TSV column holding the label"})
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
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = dataclasses.field(default=3, metadata={"help": "early-stopping patience in epochs"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training examples; 0 = all"})
    seed: int = 0

    def validate(self) -> None:
        from pipelines.datasets import checks, groups, tables

        groups.check_pattern(self.group_pattern)
        if self.cell not in CELLS:
            raise UserError(f"cell must be one of {', '.join(CELLS)}, got '{self.cell}'")
        if self.tokenize not in ("auto", "word", "character"):
            raise UserError(f"tokenize must be auto, word or character, got '{self.tokenize}'")
        if not self.units or any(u <= 0 for u in self.units):
            raise UserError("units must be a comma-separated list of positive integers, e.g. 64 or 64,64")
        if self.max_tokens < 3 or self.max_length < 1 or self.embedding_dim < 1:
            raise UserError("max_tokens must be at least 3; max_length and embedding_dim positive")
        if self.epochs < 1 or self.batch_size < 1:
            raise UserError("epochs and batch_size must be positive")
        if not 0 <= self.dropout < 1 or not 0 <= self.embedding_dropout < 1:
            raise UserError("dropout and embedding_dropout must be in [0, 1)")
        if self.head not in ("last", "pooled"):
            raise UserError(f"head must be last or pooled, got '{self.head}'")
        if self.wide_max_tokens < 2 or self.wide_l2 < 0:
            raise UserError("wide_max_tokens must be at least 2 and wide_l2 not negative")
        if self.ngrams not in (1, 2, 3):
            raise UserError(f"ngrams must be 1, 2 or 3, got {self.ngrams}")
        # The data checks last, after the settings, before TensorFlow loads.
        tables.check_labelled_table(self.dataset, self.text_column, self.label_column)
        checks.check_tfds_name(self.dataset)


PRESETS = {
    "default": TextConfig(),
    # A run of seconds for smoke tests: a small bidirectional GRU with the default head and bigrams,
    # 3000 sentences at distance 5, three epochs.
    "tiny": TextConfig(
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


def main(argv: Sequence[str] | None = None) -> int:
    return cli.train_main(
        "python -m pipelines.text", __doc__.splitlines()[0], TextConfig, PRESETS, train_and_export, argv
    )


def adapt_vocabulary(texts, tokenize: str, max_tokens: int, ngrams: int = 1) -> list[str]:
    """The vectorizer's vocabulary learned from the training texts only."""
    import tensorflow as tf

    from models import text_rnn

    vectorizer = text_rnn.make_vectorizer(tokenize, max_tokens, ngrams=ngrams)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string)).batch(1024))
    return [str(token) for token in vectorizer.get_vocabulary()]


def adapt_wide(texts, tokenize: str, max_tokens: int) -> tuple[list[str], list[float]]:
    """The wide branch's n-gram vocabulary and IDF weights, from the training texts only."""
    import tensorflow as tf

    from models import text_rnn

    vectorizer = text_rnn.make_vectorizer(
        tokenize, max_tokens, ngrams=text_rnn.wide_ngrams(tokenize), output_mode="tf_idf", name="wide_vectorizer"
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string)).batch(1024))
    vocabulary = [str(token) for token in vectorizer.get_vocabulary()]
    idf = [float(w) for w in vectorizer._lookup_layer.idf_weights.numpy()]
    idf[0] = 0.0  # the out-of-vocabulary count says nothing about the class
    return vocabulary, idf


def train_and_export(
    config: TextConfig, runs_dir: str, export_dir: str, export_model: bool = True, strategy=None
) -> int:
    import keras
    import numpy as np
    import tensorflow as tf

    from models import text_rnn
    from pipelines.datasets import pipeline, text_sources
    from pipelines.evaluation import baselines
    from pipelines.training import trainer

    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    data = text_sources.load(
        config.dataset,
        config.text_column,
        config.label_column,
        config.seed,
        config.max_train_examples,
        config.distance,
        group_pattern=config.group_pattern,
        split_files=config.split_files,
    )
    # Resolve "auto" once, from the training text, and keep the resolved value in the saved config.
    config = dataclasses.replace(config, tokenize=text_rnn.choose_tokenize(data.texts["train"], config.tokenize))
    run_dir = trainer.make_run_dir(runs_dir, "text")
    config_lib.save(config, run_dir / "config.json")
    if data.split_rows:
        trainer.save_split_assignment(data.split_rows, run_dir / "splits.csv")
    logging.info("data: %s, classes %s, sizes %s", data.description, data.class_names, data.sizes)

    vocabulary = adapt_vocabulary(data.texts["train"], config.tokenize, config.max_tokens, config.ngrams)
    logging.info("%s vocabulary: %d tokens", config.tokenize, len(vocabulary))
    wide = adapt_wide(data.texts["train"], config.tokenize, config.wide_max_tokens) if config.wide else None
    num_classes = len(data.class_names)
    batch = dict(batch_size=config.batch_size, seed=config.seed)
    train = pipeline.batched(data.dataset("train"), training=True, **batch)
    validation = pipeline.batched(data.dataset("validation"), training=False, **batch)
    test = pipeline.batched(data.dataset("test"), training=False, **batch)

    model, history, fit_seconds = trainer.fit(
        lambda: text_rnn.build_text_classifier(config, vocabulary, num_classes, wide=wide),
        train,
        validation,
        config,
        run_dir,
        strategy,
        trainer.backup_dir_for(runs_dir, "text", config),
    )
    probabilities, labels = trainer.predict_labels(model, test)
    epochs_run = len(history.get("loss", []))
    metrics = {
        "test": trainer.classification_metrics(probabilities, labels, data.class_names),
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": epochs_run,
        "seconds_per_epoch": round(fit_seconds / max(1, epochs_run), 2),
        "parameters": int(model.count_params()),
        "vocabulary_size": len(vocabulary),
        "tokenize": config.tokenize,
        "dataset": data.description,
        "sizes": data.sizes,
        "skipped": data.skipped,
        "class_names": data.class_names,
    }
    metrics["baseline"] = baselines.tfidf_logistic_regression(
        data.texts["train"],
        data.labels["train"],
        data.texts["validation"],
        data.labels["validation"],
        data.texts["test"],
        data.labels["test"],
        character=config.tokenize == "character",
        seed=config.seed,
    )
    if export_model:
        from serving.export import text_export

        servable = text_export.cpu_servable(
            model, lambda: text_rnn.build_text_classifier(config, vocabulary, num_classes, use_cudnn=False, wide=wide)
        )
        test_texts = data.texts["test"]
        samples = [str(t) for t in test_texts[np.linspace(0, len(test_texts) - 1, min(8, len(test_texts))).astype(int)]]
        version_dir, differences = text_export.export_text_model(
            servable, data.class_names, config_lib.to_dict(config), export_dir, samples
        )
        metrics["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    trainer.write_run_outputs(run_dir, config, metrics, history, data.class_names, f"text {config.cell}")
    trainer.print_summary(metrics, run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
