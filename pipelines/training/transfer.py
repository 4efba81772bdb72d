"""Transfer learning in the two phases of the Keras guide: a new head on a frozen pretrained backbone,
then the top of the backbone fine-tuned at a lower learning rate, BatchNorm kept in inference mode.

A frozen backbone gives the same features for the same input every epoch, so it is run once: phase one
computes the pooled features of every training image (and of its mirror image: flips are the one
augmentation that can be cached) and of every validation image, and trains the head on those arrays,
in seconds instead of minutes. Phase two runs the whole model on augmented images, the top
``fine_tune_fraction`` of the backbone's layers trainable (``models.backbones.set_trainable``). Its
BatchNorm layers run in inference mode throughout: their ImageNet statistics are kept, as fine-tuning
on a small dataset with batch statistics would wreck them.
"""

from __future__ import annotations

import dataclasses
import logging

import keras
import numpy as np
import tensorflow as tf

from models import backbones
from pipelines.training import trainer


def pooled_features(model: keras.Model, dataset: tf.data.Dataset, flip: bool = False, batch_size: int = 64):
    """The pooled backbone features (the ``pooled`` layer) of an unbatched ``(image, label)`` dataset."""
    features = keras.Model(model.input, model.get_layer("pooled").output)
    spec = tf.TensorSpec([None, *dataset.element_spec[0].shape], dataset.element_spec[0].dtype)
    forward = tf.function(
        lambda images: features(tf.image.flip_left_right(images) if flip else images, training=False),
        input_signature=[spec],
    )
    rows, labels = [], []
    for images, targets in dataset.batch(batch_size):
        rows.append(forward(images).numpy())
        labels.append(targets.numpy())
    return np.concatenate(rows), np.concatenate(labels)


def fit_head_then_fine_tune(model, data, train, validation, config, run, strategy):
    """Trains an image classifier on a pretrained backbone (``models.cnn.build_image_classifier``).

    Args:
        model: the built classifier, its backbone's pretrained weights loaded.
        data: its ``LabeledData`` (unbatched splits: phase one reads the images from them).
        train, validation: batched datasets for phase two (training images augmented).
        config: the resolved ``pipelines.configs.image.ImageConfig``.
        run: the ``run_folder.Run``; phase one writes to ``<run>/frozen_backbone/``.
        strategy: the ``tf.distribute`` strategy.

    Returns:
        The model with its best weights, the history of both phases, the seconds spent in ``fit``, and
        the test accuracy of phase one's head alone (a linear probe of the frozen features).
    """
    training = config.training
    batch = dict(batch_size=training.batch_size)
    train_x, train_y = pooled_features(model, data.train)
    if config.data.augment:
        flipped_x, flipped_y = pooled_features(model, data.train, flip=True)
        train_x, train_y = np.concatenate([train_x, flipped_x]), np.concatenate([train_y, flipped_y])
    validation_x, validation_y = pooled_features(model, data.validation)
    logging.info(
        "frozen %s: %d training and %d validation feature vectors of %d values",
        config.model.encoder,
        len(train_x),
        len(validation_x),
        train_x.shape[-1],
    )
    # The head trains on standardised features (a well-conditioned problem: it converges in a few
    # epochs at the usual learning rate); the standardisation is folded into its weights afterwards.
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    features_train = tf.data.Dataset.from_tensor_slices(((train_x - mean) / std, train_y))
    features_train = features_train.shuffle(len(train_x), seed=config.seed)
    features_validation = tf.data.Dataset.from_tensor_slices(((validation_x - mean) / std, validation_y))
    template = model.get_layer("probabilities")

    def build_head():
        inputs = keras.Input((train_x.shape[-1],), name="features")
        x = keras.layers.Dropout(config.model.dropout, name="head_dropout")(inputs)
        outputs = keras.layers.Dense(template.units, activation="softmax", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="head")

    head_dir = run.directory / "frozen_backbone"
    head_dir.mkdir()
    head_training = dataclasses.replace(training, epochs=training.frozen_epochs)
    head, head_history, head_seconds = trainer.fit(
        build_head,
        features_train.batch(**batch).prefetch(tf.data.AUTOTUNE),
        features_validation.batch(**batch),
        head_training,
        head_dir,
        strategy,
        run.backup_dir(dataclasses.replace(config, training=head_training), "head"),
    )
    kernel, bias = head.get_layer("probabilities").get_weights()  # on (x - mean) / std
    template.set_weights([kernel / std[:, None], bias - (mean / std) @ kernel])
    test_x, test_y = pooled_features(model, data.test)
    probe_accuracy = float((head.predict((test_x - mean) / std, verbose=0).argmax(-1) == test_y).mean())
    logging.info("the new head on the frozen %s: test accuracy %.4f", config.model.encoder, probe_accuracy)
    if not config.model.fine_tune_fraction:
        return model, head_history, head_seconds, probe_accuracy
    trainable = backbones.set_trainable(model.get_layer("backbone"), config.model.fine_tune_fraction)
    logging.info(
        "fine-tuning the top %d weighted layers of %s (BatchNorm frozen) at learning rate %g",
        trainable,
        config.model.encoder,
        training.fine_tune_learning_rate,
    )
    tune = dataclasses.replace(training, learning_rate=training.fine_tune_learning_rate)
    model, history, seconds = trainer.fit(
        lambda: model, train, validation, tune, run.directory, strategy, run.backup_dir(config)
    )
    history = {key: head_history.get(key, []) + values for key, values in history.items()}
    return model, history, head_seconds + seconds, probe_accuracy
