"""``trainer.fit`` under MultiWorkerMirroredStrategy: a custom loop that behaves like the Keras callbacks.

Keras 3.15's ``model.fit`` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so each
step is ``strategy.run`` over ``strategy.experimental_distribute_dataset`` with ``tf.GradientTape``,
``tf.nn.compute_average_loss`` and the Keras optimizer (which sums the gradients over all replicas).
What a single-machine run shows and writes is kept: a Keras progress bar per epoch, history.csv,
TensorBoard scalars, best.weights.h5, early stopping with best-weights restore, the learning rate
cut on a plateau, and a backup after every epoch from which a restarted job resumes.

Every worker sees the same all-reduced losses, so every worker takes the same decisions (stop, cut
the rate) without talking about them. Only the chief writes; the backup directory is read by all
and must therefore be one that every worker sees (a shared filesystem on a real cluster).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import pathlib
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.errors import UserError
from pipelines.training import cluster, schedule

BACKUP_FILE = "backup.npz"
# Collective failures a lost or restarted peer causes (anything else is a bug and keeps its traceback).
PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.FailedPreconditionError,
)


def fit(
    build_model: Callable[[], keras.Model],
    train: tf.data.Dataset,
    validation: tf.data.Dataset,
    config: Any,
    run_dir: pathlib.Path,
    strategy: tf.distribute.Strategy,
    backup_dir: pathlib.Path,
    compile_model: Callable[[keras.Model], None],
) -> tuple[keras.Model, dict[str, list[float]], float]:
    """Trains with ``strategy`` (multi-worker); same contract and return value as ``trainer.fit``.

    ``build_model`` is called twice: once inside the strategy's scope (the trained copy) and once
    outside it (the plain model returned, which takes the best weights and needs no collectives for
    evaluation and export). When it returns an existing model instead (built outside the scope), a
    copy of it is trained and the model itself is returned with the best weights.
    ``config.batch_size`` is the batch per replica (per worker on CPU): the datasets, batched by it,
    are re-batched to the global batch.
    """
    chief = cluster.is_chief()
    name = cluster.role().name if cluster.role() else "worker"
    watchdog = cluster.watchdog()
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch_size * replicas
    with strategy.scope():
        model = build_model()
        plain = None
        if model.weights and not isinstance(model.weights[0].value, tf.distribute.DistributedValues):
            # An existing model (a second phase, e.g. fine-tuning what the first trained): train a copy
            # made inside the scope, with the same weights and trainable flags, and return the original.
            plain, model = model, keras.models.clone_model(model)
            model.set_weights(plain.get_weights())
            for layer in plain.layers:
                model.get_layer(layer.name).trainable = layer.trainable
        optimizer = keras.optimizers.Adam(config.learning_rate)
        optimizer.build(model.trainable_variables)
    plain = plain or build_model()
    compile_model(plain)
    steps = Steps(model, optimizer, strategy, global_batch)
    distributed_train = strategy.experimental_distribute_dataset(shard_by_element(train.rebatch(global_batch)))
    distributed_validation = strategy.experimental_distribute_dataset(
        shard_by_element(validation.rebatch(global_batch))
    )

    if watchdog:
        watchdog.beat("waiting for the other workers")
    state = initial_state(config.learning_rate)
    restored = restore(backup_dir, model, optimizer)
    if restored is not None:
        state, best_weights = restored
    else:
        best_weights = model.get_weights()
    _check_same_start(steps, state["epoch"], backup_dir)
    if state["epoch"]:
        logging.info("%s: resuming from the backup in %s after epoch %d", name, backup_dir, state["epoch"])
    writers = Writers(run_dir, state) if chief else None
    if writers and restored is not None:  # the new run folder starts with the best weights so far
        writers.save_best(plain, best_weights)
    patience_lr = schedule.plateau_patience(config.patience)
    cardinality = int(train.rebatch(global_batch).cardinality())
    start = time.perf_counter()
    examples = 0
    try:
        while state["epoch"] < config.epochs and not state["stopped"]:
            epoch = state["epoch"]
            if chief:
                print(f"Epoch {epoch + 1}/{config.epochs}", flush=True)
            progress = keras.utils.Progbar(
                cardinality if cardinality > 0 else None,
                verbose=(1 if sys.stderr.isatty() else 2) if chief else 0,
                stateful_metrics=["loss", "accuracy", "val_loss", "val_accuracy"],
            )
            learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            totals, step = np.zeros(4), -1
            for step, (inputs, labels) in enumerate(distributed_train):
                totals += steps.train(inputs, labels).numpy()
                if watchdog:
                    watchdog.beat(f"training epoch {epoch + 1}")
                progress.update(
                    step + 1, [("loss", totals[0] / totals[2]), ("accuracy", totals[1] / totals[3])], finalize=False
                )
            examples += int(totals[2])
            steps.average_non_trainable()
            validation_totals = np.zeros(4)
            for inputs, labels in distributed_validation:
                validation_totals += steps.evaluate(inputs, labels).numpy()
                if watchdog:
                    watchdog.beat(f"validating epoch {epoch + 1}")
            logs = {
                "accuracy": totals[1] / max(1, totals[3]),
                "learning_rate": learning_rate,
                "loss": totals[0] / max(1, totals[2]),
                "val_accuracy": validation_totals[1] / max(1, validation_totals[3]),
                "val_loss": validation_totals[0] / max(1, validation_totals[2]),
            }
            progress.target = progress.target or step + 1  # a cached dataset's length is known after one pass
            progress.update(step + 1, [(k, v) for k, v in logs.items() if k != "learning_rate"], finalize=True)
            improved, reduced = update_callbacks(state, logs, config.patience, patience_lr)
            if improved:
                best_weights = model.get_weights()
            if reduced:
                optimizer.learning_rate.assign(state["learning_rate"])
                if chief:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {state['learning_rate']}.")
            if chief:
                writers.epoch_end(epoch, logs, plain, best_weights if improved else None)
                save_backup(backup_dir, model, optimizer, best_weights, state)
    except PEER_ERRORS as error:
        raise UserError(
            f"multi-worker {name}: lost a peer during epoch {state['epoch'] + 1} "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0][:200]}); start every worker again "
            f"with the same command to resume after epoch {state['epoch']}"
        ) from None
    seconds = time.perf_counter() - start
    if state["stopped"] and chief:
        print(f"Epoch {state['epoch']}: early stopping; restoring the weights of epoch {state['best_epoch'] + 1}.")
    difference = _weight_difference(steps, model)
    if watchdog:
        watchdog.pause()  # evaluation and export run on the plain model: no collectives
    plain.set_weights(best_weights)
    if chief:
        writers.close()
        summary = {
            "workers": cluster.role().num_workers if cluster.role() else 1,
            "replicas": replicas,
            "batch_per_replica": config.batch_size,
            "global_batch": global_batch,
            "train_examples_per_second": round(examples / seconds, 1) if seconds else None,
            "max_weight_difference_between_workers": difference,
            "resumed_after_epoch": state["resumed_from"],
        }
        (run_dir / "distributed.json").write_text(json.dumps(summary, indent=2) + "\n")
        shutil.rmtree(backup_dir, ignore_errors=True)
    if difference > 1e-5:
        raise RuntimeError(f"workers ended with different weights (max difference {difference:g})")
    history = {k: [float(v) for v in values] for k, values in state["history"].items()}
    return plain, history, seconds


def shard_by_element(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Each worker keeps every N-th global batch (DATA sharding).

    Works for every source here; FILE sharding (TensorFlow's default attempt) fails outright on a
    TFDS split or cache that is a single file, which the embedded datasets are.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


class Steps:
    """The compiled per-step functions: each returns [loss sum, correct, examples, labels] over all replicas."""

    def __init__(self, model: keras.Model, optimizer, strategy: tf.distribute.Strategy, global_batch: int):
        self.model, self.optimizer, self.strategy, self.global_batch = model, optimizer, strategy, global_batch
        self.loss = keras.losses.SparseCategoricalCrossentropy(reduction=None)
        self.train = tf.function(self._train, reduce_retracing=True)
        self.evaluate = tf.function(self._evaluate, reduce_retracing=True)
        self.all_sum = tf.function(
            lambda value: strategy.reduce("SUM", strategy.run(tf.identity, args=(value,)), axis=None),
            reduce_retracing=True,
        )

    def average_non_trainable(self) -> None:
        """Averages the non-trainable float weights (batch-norm moving statistics) over the replicas.

        Each replica updates them from its own batches, so without this the workers' models drift apart.
        """
        replicas = self.strategy.num_replicas_in_sync
        for variable in self.model.non_trainable_variables:
            if variable.dtype.startswith("float"):
                # A plain tensor: a tf.function given variables may reuse the first one's trace.
                local = tf.constant(keras.ops.convert_to_numpy(variable))
                variable.assign(self.all_sum(local) / replicas)

    def _per_example(self, labels, probabilities):
        per_label = self.loss(labels, probabilities)  # (batch,) or (batch, time) for a label per frame
        per_example = tf.reduce_mean(tf.reshape(per_label, [tf.shape(per_label)[0], -1]), axis=1)
        correct = tf.cast(tf.equal(tf.argmax(probabilities, -1), tf.cast(labels, tf.int64)), tf.float32)
        counts = tf.cast(tf.stack([tf.size(per_example), tf.size(correct)]), tf.float32)
        return per_example, tf.concat([tf.stack([tf.reduce_sum(per_example), tf.reduce_sum(correct)]), counts], 0)

    def _train(self, inputs, labels):
        def replica_step(inputs, labels):
            with tf.GradientTape() as tape:
                probabilities = self.model(inputs, training=True)
                per_example, sums = self._per_example(labels, probabilities)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
                if self.model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
            variables = self.model.trainable_variables
            gradients = tape.gradient(loss, variables)
            self.optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables) if g is not None])
            return sums

        return self.strategy.reduce("SUM", self.strategy.run(replica_step, args=(inputs, labels)), axis=None)

    def _evaluate(self, inputs, labels):
        def replica_step(inputs, labels):
            return self._per_example(labels, self.model(inputs, training=False))[1]

        return self.strategy.reduce("SUM", self.strategy.run(replica_step, args=(inputs, labels)), axis=None)


def initial_state(learning_rate: float) -> dict[str, Any]:
    return {
        "epoch": 0,
        "history": {},
        "best_val_loss": math.inf,
        "best_epoch": -1,
        "stop_wait": 0,
        "stopped": False,
        "plateau_best": math.inf,
        "plateau_wait": 0,
        "learning_rate": float(learning_rate),
        "resumed_from": None,
    }


def update_callbacks(state: dict[str, Any], logs: dict[str, float], patience: int, patience_lr: int) -> bool:
    """EarlyStopping(val_loss, restore_best_weights) and ReduceLROnPlateau (``schedule``) as Keras does them.

    Updates ``state`` for the epoch just finished; returns whether val_loss improved on the best
    and whether the learning rate was cut.
    """
    epoch, current = state["epoch"], logs["val_loss"]
    for key, value in logs.items():
        state["history"].setdefault(key, []).append(float(value))
    state["epoch"] = epoch + 1
    improved = current < state["best_val_loss"]
    state["stop_wait"] += 1
    if improved:
        state.update(best_val_loss=current, best_epoch=epoch, stop_wait=0)
    elif state["stop_wait"] >= patience and epoch > 0:
        state["stopped"] = True
    reduced = False
    if current < state["plateau_best"] - schedule.MIN_DELTA:
        state.update(plateau_best=current, plateau_wait=0)
    else:
        state["plateau_wait"] += 1
        if state["plateau_wait"] >= patience_lr:
            state.update(learning_rate=logs["learning_rate"] * schedule.REDUCE_FACTOR, plateau_wait=0)
            reduced = True
    return improved, reduced


class Writers:
    """The chief's per-epoch artifacts: history.csv, TensorBoard scalars and best.weights.h5."""

    def __init__(self, run_dir: pathlib.Path, state: dict[str, Any]):
        self.run_dir, self.state = run_dir, state
        board = run_dir / "tensorboard"
        self.train_writer = tf.summary.create_file_writer(str(board / "train"))
        self.validation_writer = tf.summary.create_file_writer(str(board / "validation"))

    def epoch_end(self, epoch: int, logs: dict[str, float], plain: keras.Model, best_weights) -> None:
        history = self.state["history"]
        keys = sorted(history)
        with open(self.run_dir / "history.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", *keys])
            for index in range(len(history[keys[0]])):
                writer.writerow([index, *(history[key][index] for key in keys)])
        for writer, prefix in ((self.train_writer, ""), (self.validation_writer, "val_")):
            with writer.as_default(step=epoch):
                for key in ("loss", "accuracy", "learning_rate"):
                    if prefix + key in logs:
                        tf.summary.scalar(f"epoch_{key}", logs[prefix + key])
        if best_weights is not None:
            self.save_best(plain, best_weights)

    def save_best(self, plain: keras.Model, best_weights) -> None:
        plain.set_weights(best_weights)
        plain.save_weights(str(self.run_dir / "best.weights.h5"))

    def close(self) -> None:
        self.train_writer.close()
        self.validation_writer.close()


def save_backup(backup_dir: pathlib.Path, model, optimizer, best_weights, state: dict[str, Any]) -> None:
    """Model, optimizer and best weights plus the loop's state, replaced atomically after each epoch."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    arrays = {f"model_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"optimizer_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(optimizer.variables)})
    arrays.update({f"best_{i}": w for i, w in enumerate(best_weights)})
    arrays["state"] = np.array(json.dumps(state))
    partial = backup_dir / f".{BACKUP_FILE}.{os.getpid()}.npz"
    np.savez(partial, **arrays)
    os.replace(partial, backup_dir / BACKUP_FILE)


def restore(backup_dir: pathlib.Path, model, optimizer) -> tuple[dict[str, Any], list[np.ndarray]] | None:
    """Loads the backup into ``model`` and ``optimizer``; returns (state, best weights) or None."""
    path = backup_dir / BACKUP_FILE
    if not path.exists():
        return None
    with np.load(path) as stored:
        state = json.loads(str(stored["state"]))

        def group(prefix):
            return [stored[f"{prefix}_{i}"] for i in range(sum(k.startswith(prefix + "_") for k in stored.files))]

        model.set_weights(group("model"))
        for variable, value in zip(optimizer.variables, group("optimizer")):
            variable.assign(value)
        best = group("best")
    state["resumed_from"] = state["epoch"]
    return state, best


def _check_same_start(steps: Steps, epoch: int, backup_dir: pathlib.Path) -> None:
    """All workers must resume from the same epoch, or their collectives would not line up."""
    replicas = steps.strategy.num_replicas_in_sync
    total, squares = steps.all_sum(tf.constant([epoch, epoch * epoch], tf.float32)).numpy()
    if total != replicas * epoch or squares != replicas * epoch * epoch:
        raise UserError(
            f"the workers found different backups in {backup_dir} (this one: after epoch {epoch}): "
            "--backup-dir must be a directory that every worker sees, e.g. on a shared filesystem"
        )
    if cluster.watchdog():
        cluster.watchdog().beat("starting the first epoch")


def _weight_difference(steps: Steps, model: keras.Model) -> float:
    """Largest difference between this worker's final weights and the mean over all replicas (summed)."""
    flat = np.concatenate([np.ravel(w) for w in model.get_weights()]).astype(np.float32)
    mean = steps.all_sum(tf.constant(flat)).numpy() / steps.strategy.num_replicas_in_sync
    own = np.float32(np.abs(flat - mean).max() if flat.size else 0.0)
    return float(steps.all_sum(tf.constant([own])).numpy()[0])
