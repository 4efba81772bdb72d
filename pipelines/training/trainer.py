"""Training shared by every pipeline: run folders, ``fit`` with its callbacks, evaluation.

A run writes ``runs/<pipeline>/<timestamp>/``: config.json, history.csv, TensorBoard logs,
the best weights, metrics.json, training_curves.png and confusion_matrix.png. A killed run
is resumed by running the same command again: ``BackupAndRestore`` keeps its state under
``runs/<pipeline>/.backup-<config fingerprint>/`` until the run completes.
"""

from __future__ import annotations

import datetime
import json
import logging
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common import config as config_lib
from pipelines.training import cluster, plots

# Set from --backup-dir by the command line (common.cli); empty: inside the runs folder.
BACKUP_ROOT = ""


def make_run_dir(runs_root: str | pathlib.Path, pipeline: str) -> pathlib.Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path(runs_root) / pipeline
    run_dir = base / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = base / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


def fit(
    build_model: Callable[[], keras.Model],
    train: tf.data.Dataset,
    validation: tf.data.Dataset,
    config: Any,
    run_dir: pathlib.Path,
    strategy: tf.distribute.Strategy,
    backup_dir: pathlib.Path,
) -> tuple[keras.Model, dict[str, list[float]], float]:
    """Builds, compiles and trains a classifier with early stopping and resumable backups.

    ``config`` provides ``epochs``, ``learning_rate`` and ``patience``. The model's output is
    softmax probabilities over the last axis and labels are integer class ids (one per example
    or one per frame: the same loss and accuracy work for both).

    Under ``MultiWorkerMirroredStrategy`` (``--strategy multi_worker``), where Keras's ``fit``
    fails, the same behaviour and artifacts come from :mod:`pipelines.training.distributed_fit`'s loop.

    Returns:
        The model with its best validation weights, the history, and seconds spent in ``fit``.
    """

    def compile_model(model: keras.Model) -> None:
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        from pipelines.training import distributed_fit

        return distributed_fit.fit(build_model, train, validation, config, run_dir, strategy, backup_dir, compile_model)
    with strategy.scope():
        model = build_model()
        compile_model(model)
        # Its slots now, not in the first step: variables created while tracing make TF trace the step twice.
        model.optimizer.build(model.trainable_variables)
    best_path = run_dir / "best.weights.h5"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_loss", save_best_only=True, save_weights_only=True
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=max(1, config.patience // 2)),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
    ]
    start = time.perf_counter()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=1 if sys.stderr.isatty() else 2,
    )
    seconds = time.perf_counter() - start
    if best_path.exists():
        model.load_weights(str(best_path))
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, seconds


def predict_labels(model: keras.Model, dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Runs the model over a batched ``(x, y)`` dataset; returns (probabilities, true labels).

    The model runs as one function traced once for the dataset's input spec (batch size left open),
    not op by op: eagerly, a recurrent layer steps through time in Python, several times slower.
    """
    forward = tf.function(lambda inputs: model(inputs, training=False), input_signature=[dataset.element_spec[0]])
    probabilities, labels = [], []
    for inputs, targets in dataset:
        probabilities.append(forward(inputs).numpy())
        labels.append(targets.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, per-class accuracy and the confusion matrix; any leading axes are flattened."""
    predicted = probabilities.reshape(-1, probabilities.shape[-1]).argmax(-1)
    labels = labels.reshape(-1)
    num_classes = len(class_names)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = {
        name: float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None for i, name in enumerate(class_names)
    }
    return {
        "accuracy": float((predicted == labels).mean()),
        "num_examples": int(labels.size),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def write_run_outputs(
    run_dir: pathlib.Path,
    config: Any,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
    class_names: list[str],
    title: str,
) -> None:
    """Writes metrics.json, training_curves.png and confusion_matrix.png into the run folder.

    A non-chief worker of a multi-worker job writes nothing: its run folder is a temporary one.
    """
    if not cluster.is_chief():
        return
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plots.training_curves(history, run_dir / "training_curves.png", title=title)
    test = metrics.get("test", metrics)
    if "confusion_matrix" in test:
        plots.confusion_matrix(
            np.asarray(test["confusion_matrix"]),
            class_names,
            run_dir / "confusion_matrix.png",
            title=f"{title}: test accuracy {test['accuracy']:.3f}",
        )
    logging.info("run folder: %s", run_dir)


def backup_dir_for(runs_root: str | pathlib.Path, pipeline: str, config: Any) -> pathlib.Path:
    """Where an interrupted run's backup lives: ``runs/<pipeline>/.backup-<fingerprint>/``, or
    ``<--backup-dir>/<pipeline>-<fingerprint>/`` (multi-worker jobs: a directory every worker sees)."""
    if BACKUP_ROOT:
        return pathlib.Path(BACKUP_ROOT) / f"{pipeline}-{config_lib.fingerprint(config)}"
    return pathlib.Path(runs_root) / pipeline / f".backup-{config_lib.fingerprint(config)}"


def print_summary(metrics: dict[str, Any], run_dir: pathlib.Path) -> None:
    """The end of a classifier run on stdout: one JSON line for scripts, one sentence for people."""
    export_path = metrics.get("export", {}).get("path")
    summary = {
        "test_accuracy": round(metrics["test"]["accuracy"], 4),
        "baseline_accuracy": round(metrics["baseline"]["accuracy"], 4),
        "fit_seconds": metrics.get("fit_seconds"),
        "run_dir": str(run_dir),
        "export": export_path,
    }
    print(json.dumps(summary, ensure_ascii=False))
    print(
        f"test accuracy {metrics['test']['accuracy']:.4f} (baseline {metrics['baseline']['name']}: "
        f"{metrics['baseline']['accuracy']:.4f}); run folder {run_dir}"
        + (f"; exported to {export_path}" if export_path else "")
    )


def save_split_assignment(rows: list[dict], path: pathlib.Path) -> None:
    """Writes which file went to which split (and its group) as CSV, for a look or a rerun elsewhere."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
