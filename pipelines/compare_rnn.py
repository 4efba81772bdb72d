"""SimpleRNN vs LSTM vs GRU: test accuracy against the distance a model must remember.

make compare-rnn                          # cells x distances 5,20,40,80 on the embedded dataset, ~9 min
                                          # (2 busy cores); d=40: SimpleRNN 0.50, LSTM and GRU 1.00
make compare-rnn PRESET=tiny              # seconds; smoke test
python -m pipelines.compare_rnn --distances 5,40,160 --epochs 10

Every cell gets the same budget (width, embedding, epochs, learning rate, training sentences) on
``chinese_reference/distance_<d>``: training sentences mix 0..d distractor characters, test
sentences have exactly d, so test accuracy is memory at distance d. Writes results.csv,
results.md and accuracy_vs_distance.png to ``runs/compare_rnn/<timestamp>/``.
"""

from __future__ import annotations

import csv
import functools
import logging
import pathlib
import sys
from collections.abc import Sequence

from common import cli
from common import config as config_lib
from pipelines.configs.compare_rnn import PRESETS, CompareConfig
from pipelines.configs.text import TextConfig, TextDataConfig
from pipelines.training.workspace import Workspace


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.config_parser("python -m pipelines.compare_rnn", __doc__.splitlines()[0], CompareConfig, PRESETS)
    parser.add_argument("--runs-dir", default="runs", help="where run folders are written")
    args = parser.parse_args(argv)
    config = config_lib.resolve(PRESETS, args.preset, cli.overrides_from(args))
    compare(config, args.runs_dir)
    return 0


def compare(config: CompareConfig, runs_dir: str | pathlib.Path) -> tuple[pathlib.Path, list[dict]]:
    """Trains every cell at every distance; writes one result row per (cell, distance) into a run folder
    of its own (``runs/compare_rnn/<timestamp>/``) and returns that folder and the rows."""
    # Deferred: TensorFlow loads only once main has checked the config.
    import tensorflow as tf

    from models import text_rnn
    from pipelines.datasets import pipeline, text_sources, vocabulary
    from pipelines.evaluation import metrics
    from pipelines.training import run_folder, trainer

    run_dir = run_folder.create(Workspace(runs_dir), "compare_rnn", config).directory
    rows = []
    for distance in config.distances:
        data = text_sources.load(
            TextDataConfig(distance=distance, max_train_examples=config.max_train_examples), seed=config.seed
        )
        characters = vocabulary.adapt_vocabulary(data.texts["train"], "character", 1000)
        batch = dict(batch_size=config.batch_size, seed=config.seed)
        train = pipeline.batched(data.dataset("train"), training=True, **batch)
        validation = pipeline.batched(data.dataset("validation"), training=False, **batch)
        test = pipeline.batched(data.dataset("test"), training=False, **batch)
        for cell in config.cells:
            # One direction, single characters, the final state only: the pet must be carried through
            # every distractor to the end (a pooled or backward read would see it without memory).
            run_config = config_lib.replace(
                TextConfig(),
                tokenize="character",
                ngrams=1,
                wide=False,  # no bag-of-n-grams shortcut: the comparison measures the cells' memory
                bidirectional=False,
                head="last",
                embedding_dropout=0.0,
                cell=cell,
                units=(config.units,),
                embedding_dim=config.embedding_dim,
                max_length=400,
                dropout=0.0,
                epochs=config.epochs,
                batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                patience=config.epochs,  # the same number of epochs for every cell: no early stop
                seed=config.seed,
            )
            tf.keras.utils.set_random_seed(config.seed)
            sub_dir = run_dir / f"{cell}-distance_{distance}"
            sub_dir.mkdir()
            model, history, seconds = trainer.fit(
                functools.partial(text_rnn.build_text_classifier, run_config.model, characters, len(data.class_names)),
                train,
                validation,
                run_config.training,
                sub_dir,
                tf.distribute.get_strategy(),
                sub_dir / ".backup",
            )
            probabilities, labels = metrics.predict_labels(model, test)
            accuracy = metrics.classification_metrics(probabilities, labels, data.class_names)["accuracy"]
            recurrent_parameters = sum(
                int(layer.count_params()) for layer in model.layers if layer.name.startswith(cell)
            )
            rows.append(
                {
                    "cell": cell,
                    "distance": distance,
                    "test_accuracy": round(accuracy, 4),
                    "parameters": int(model.count_params()),
                    "recurrent_parameters": recurrent_parameters,
                    "seconds_per_epoch": round(seconds / max(1, len(history["loss"])), 2),
                    "epochs": len(history["loss"]),
                }
            )
            logging.info("compare: %s", rows[-1])
    write_outputs(rows, config, run_dir, len(data.class_names))
    return run_dir, rows


def write_outputs(rows: list[dict], config: CompareConfig, run_dir, num_classes: int) -> None:
    """results.csv (one row per cell and distance), results.md (one row per cell) and the plot."""
    from pipelines.training import plots  # deferred with the training imports (Matplotlib)

    with open(run_dir / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    distances = list(config.distances)
    header = ["cell", "parameters", "recurrent parameters", "seconds/epoch"] + [f"acc @ d={d}" for d in distances]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    by_cell = {cell: [row for row in rows if row["cell"] == cell] for cell in config.cells}
    for cell, cell_rows in by_cell.items():
        seconds = sum(row["seconds_per_epoch"] for row in cell_rows) / len(cell_rows)
        accuracies = {row["distance"]: row["test_accuracy"] for row in cell_rows}
        values = [
            cell,
            f"{cell_rows[0]['parameters']:,}",
            f"{cell_rows[0]['recurrent_parameters']:,}",
            f"{seconds:.1f}",
        ]
        lines.append("| " + " | ".join(values + [f"{accuracies[d]:.3f}" for d in distances]) + " |")
    notes = [
        "",
        f"Same budget per cell: {config.units} units, embedding {config.embedding_dim}, {config.epochs} epochs, "
        f"{config.max_train_examples} training sentences, Adam {config.learning_rate:g}; "
        f"chance = {1 / num_classes:.2f}. "
        "Seconds/epoch include validation and are averaged over distances (longer distances cost more).",
    ]
    if "gru" in by_cell and "lstm" in by_cell:
        ratio = by_cell["gru"][0]["recurrent_parameters"] / by_cell["lstm"][0]["recurrent_parameters"]
        notes.append(f"GRU/LSTM recurrent parameters: {ratio:.2f}.")
    markdown = "\n".join(lines + notes) + "\n"
    (run_dir / "results.md").write_text(markdown, encoding="utf-8")
    plots.accuracy_vs_distance(
        {cell: [(row["distance"], row["test_accuracy"]) for row in cell_rows] for cell, cell_rows in by_cell.items()},
        1 / num_classes,
        run_dir / "accuracy_vs_distance.png",
    )
    print(markdown)
    print(f"results in {run_dir}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
