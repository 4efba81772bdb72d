"""Pieces shared by every exported classifier's signatures."""

from __future__ import annotations

import tensorflow as tf


def labels_from(probabilities: tf.Tensor, class_names: tf.Tensor) -> tf.Tensor:
    """Top-1 class name for each row of ``probabilities`` (any leading axes)."""
    return tf.gather(class_names, tf.argmax(probabilities, axis=-1))


def classes_endpoint(class_names: list[str]):
    """The ``classes`` signature: how a REST-only client gets the class list.

    ``POST /v1/models/<name>:predict`` with ``{"signature_name": "classes", "instances": [""]}``
    answers ``{"predictions": [[<class 0>, <class 1>, ...]]}``. The ``query`` input is ignored;
    it exists because TF Serving's predict API needs at least one input.
    """
    names = tf.constant(class_names)

    def classes(query):
        return {"classes": tf.tile(names[tf.newaxis], [tf.shape(query)[0], 1])}

    return classes, [tf.TensorSpec([None], tf.string, name="query")]


def decode_image(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """JPEG/PNG/BMP/GIF bytes → (size, size, 3) uint8 RGB, resized as the model resizes."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    resized = tf.image.resize(tf.cast(image, tf.float32), (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
