"""Tiny SavedModels in the project's signature contract, in miniature (named inputs, dict outputs,
``probabilities`` + ``labels``, a ``classes`` signature), plus signatures that exercise the REST codec
(multi-input, ``_bytes`` outputs, an unsupported float16 input)."""

import os

import numpy as np
import tensorflow as tf

IMAGE_CLASS_NAMES = ["red", "green", "blue"]
TEXT_CLASS_NAMES = ["short", "long"]


class ImageModel(tf.Module):
    """Classifies an image by its dominant RGB channel; `bias` lets a second version answer differently."""

    def __init__(self, bias=(0.0, 0.0, 0.0)):
        super().__init__()
        self.bias = tf.Variable(np.asarray(bias, np.float32))
        self.class_names = tf.constant(IMAGE_CLASS_NAMES)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve(self, images):
        channel_means = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2]) / 255.0  # (batch, 3)
        probabilities = tf.nn.softmax(channel_means * 10.0 + self.bias)
        return {"probabilities": probabilities, "labels": tf.gather(self.class_names, tf.argmax(probabilities, -1))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="query")])
    def classes(self, query):
        return {"classes": tf.tile(self.class_names[tf.newaxis], [tf.shape(query)[0], 1])}

    @tf.function(
        input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x"), tf.TensorSpec([None], tf.int32, name="offset")]
    )
    def combine(self, x, offset):
        return {"total": tf.reduce_sum(x, axis=-1) + tf.cast(offset, tf.float32), "doubled": x * 2.0}

    def signatures(self):
        return {"serving_default": self.serve, "classes": self.classes, "combine": self.combine}


class TextModel(tf.Module):
    """Classifies a string as short (< 5 bytes) or long; `echo` returns raw bytes as a `_bytes` output."""

    def __init__(self):
        super().__init__()
        self.class_names = tf.constant(TEXT_CLASS_NAMES)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        is_long = tf.cast(tf.strings.length(text) >= 5, tf.float32)  # (batch,)
        probabilities = tf.stack([1.0 - is_long, is_long], axis=-1)
        return {"probabilities": probabilities, "labels": tf.gather(self.class_names, tf.argmax(probabilities, -1))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data")])
    def echo(self, data):
        return {"data_bytes": data, "length": tf.strings.length(data)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float16, name="values")])
    def half(self, values):
        return {"values": tf.cast(values, tf.float32)}

    def signatures(self):
        return {"serving_default": self.serve, "echo": self.echo, "half": self.half}


def save_model(module, directory: str) -> str:
    """Saves a tf.Module with its signatures to `directory` (a SavedModel)."""
    tf.saved_model.save(module, directory, signatures=module.signatures())
    return directory


def publish(staging_dir: str, version_dir: str) -> None:
    """Moves a complete SavedModel into place atomically, as the export code does."""
    os.makedirs(os.path.dirname(version_dir), exist_ok=True)
    os.rename(staging_dir, version_dir)
