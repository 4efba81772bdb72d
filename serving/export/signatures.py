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


def decode_native(image_bytes: tf.Tensor) -> tf.Tensor:
    """JPEG/PNG/BMP/GIF bytes → (height, width, 3) uint8 RGB at the image's own size."""
    return tf.io.decode_image(image_bytes, channels=3, expand_animations=False)


def decode_frames(frame_bytes: tf.Tensor) -> tf.Tensor:
    """(batch, time) encoded frames → (batch, time, height, width, 3) uint8 at their own size.

    No resize: the model's own preprocessing then sees exactly the pixels a raw request would carry, so
    a lossless PNG gets the pixel signature's answer. The frames of one request share one size, as the
    frames of a raw request do (else TensorFlow's shape error, a 400 through REST).
    """
    frames = tf.map_fn(
        decode_native, tf.reshape(frame_bytes, [-1]), fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    )
    return tf.reshape(frames, tf.concat([tf.shape(frame_bytes), tf.shape(frames)[1:]], axis=0))


def predict_encoded_images(image_bytes: tf.Tensor, predict) -> tf.Tensor:
    """`predict` (uint8 (n, h, w, 3) → (n, ...)) on (batch,) encoded images, each at its own size.

    Images of one size go through `predict` as one batch, exactly as pixels would; a batch mixing sizes
    goes one image at a time (there is no dense tensor of them), still without a resize before the model's.
    """
    images = tf.map_fn(
        lambda data: tf.RaggedTensor.from_tensor(decode_native(data)),
        image_bytes,
        fn_output_signature=tf.RaggedTensorSpec([None, None, 3], tf.uint8, ragged_rank=1),
    )
    heights, widths = images.row_lengths(), images.values.row_lengths()
    one_size = tf.logical_and(
        tf.reduce_min(heights) == tf.reduce_max(heights), tf.reduce_min(widths) == tf.reduce_max(widths)
    )

    def one_at_a_time():
        return tf.map_fn(
            lambda index: predict(images[index].to_tensor()[tf.newaxis])[0],
            tf.range(tf.shape(image_bytes)[0]),
            fn_output_signature=tf.float32,
        )

    return tf.cond(one_size, lambda: predict(images.to_tensor()), one_at_a_time)
