"""``fit``: trains a classifier with early stopping, the learning-rate schedule and resumable backups.

A killed run is resumed by running the same command again: ``BackupAndRestore`` keeps its state in
the backup folder (``run_folder.backup_dir``) until the run completes. Under
``MultiWorkerMirroredStrategy`` the same behaviour comes from :mod:`pipelines.training.distributed_fit`.
"""

from __future__ import annotations

import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from pipelines.training import distributed_fit, schedule


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

    ``config`` is the pipeline's training settings (``epochs``, ``learning_rate``, ``patience``:
    :class:`pipelines.configs.shared.Training`). The model's output is
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
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            factor=schedule.REDUCE_FACTOR,
            patience=schedule.plateau_patience(config.patience),
            min_delta=schedule.MIN_DELTA,
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
    ]
    start = time.perf_counter()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=config.epochs,
        callbacks=callbacks,
        shuffle=False,  # the datasets are shuffled by pipelines.datasets.pipeline (Keras ignores it for tf.data)
        verbose=1 if sys.stderr.isatty() else 2,
    )
    seconds = time.perf_counter() - start
    if best_path.exists():
        model.load_weights(str(best_path))
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}, seconds
