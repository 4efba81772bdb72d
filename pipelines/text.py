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

import logging
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from pipelines.configs.text import PRESETS, TextConfig
from pipelines.training import command
from pipelines.training.workspace import Workspace


def main(argv: Sequence[str] | None = None) -> int:
    return command.train_main(
        "python -m pipelines.text", __doc__.splitlines()[0], TextConfig, PRESETS, train_and_export, argv
    )


def train_and_export(config: TextConfig, workspace: Workspace):
    """Trains, evaluates and (into ``workspace.export_dir`` when set) exports; returns a ``run_folder.TrainResult``."""
    # Deferred: TensorFlow loads only once main has checked the config.
    import numpy as np

    from models import text_rnn
    from pipelines.datasets import pipeline, text_sources, vocabulary
    from pipelines.evaluation import baselines, metrics
    from pipelines.training import run_folder, trainer
    from serving.export import text_export

    strategy = workspace.start(config.seed)
    data = text_sources.load(config.data, config.seed)
    # Resolve "auto" once, from the training text, and keep the resolved value in the saved config.
    config = config_lib.replace(config, tokenize=text_rnn.choose_tokenize(data.texts["train"], config.model.tokenize))
    model_config = config.model
    run = run_folder.create(workspace, "text", config, data)

    words = vocabulary.adapt_vocabulary(
        data.texts["train"], model_config.tokenize, model_config.max_tokens, model_config.ngrams
    )
    logging.info("%s vocabulary: %d tokens", model_config.tokenize, len(words))
    wide = (
        vocabulary.adapt_wide(data.texts["train"], model_config.tokenize, model_config.wide_max_tokens)
        if model_config.wide
        else None
    )
    num_classes = len(data.class_names)
    batch = dict(batch_size=config.training.batch_size, seed=config.seed)
    train = pipeline.batched(data.dataset("train"), training=True, **batch)
    validation = pipeline.batched(data.dataset("validation"), training=False, **batch)
    test = pipeline.batched(data.dataset("test"), training=False, **batch)

    model, history, fit_seconds = trainer.fit(
        lambda: text_rnn.build_text_classifier(model_config, words, num_classes, wide=wide),
        train,
        validation,
        config.training,
        run.directory,
        strategy,
        run.backup_dir(config),
    )
    probabilities, labels = metrics.predict_labels(model, test)
    epochs_run = len(history.get("loss", []))
    results = {
        "test": metrics.classification_metrics(probabilities, labels, data.class_names),
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": epochs_run,
        "seconds_per_epoch": round(fit_seconds / max(1, epochs_run), 2),
        "parameters": int(model.count_params()),
        "vocabulary_size": len(words),
        "tokenize": model_config.tokenize,
        "dataset": data.description,
        "sizes": data.sizes,
        "skipped": data.skipped,
        "class_names": data.class_names,
    }
    results["baseline"] = baselines.tfidf_logistic_regression(
        data.texts["train"],
        data.labels["train"],
        data.texts["validation"],
        data.labels["validation"],
        data.texts["test"],
        data.labels["test"],
        character=model_config.tokenize == "character",
        seed=config.seed,
    )
    if workspace.export_dir:
        servable = text_export.cpu_servable(
            model,
            lambda: text_rnn.build_text_classifier(model_config, words, num_classes, use_cudnn=False, wide=wide),
        )
        test_texts = data.texts["test"]
        samples = [str(t) for t in test_texts[np.linspace(0, len(test_texts) - 1, min(8, len(test_texts))).astype(int)]]
        version_dir, differences = text_export.export_text_model(
            servable, data.class_names, config_lib.to_dict(config), workspace.export_dir, samples
        )
        results["export"] = {"path": str(version_dir), "reload_max_difference": differences}
    run_folder.write_run_outputs(run.directory, config, results, history, data.class_names, f"text {model_config.cell}")
    return run_folder.classifier_result(run.directory, results)


if __name__ == "__main__":
    sys.exit(cli.run(main))
