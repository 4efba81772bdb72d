"""The resize the models apply, for the data sources to apply the same: training sees the pixels serving will.

The models resize inside their graphs (``layers.Resizing(antialias=True)``, ``FramePreprocess``);
sources that store frames at model size (the embedded clips, the frame cache, image folders) resize
with :func:`resize_uint8` first. At 16x16 from 128x128, OpenCV's ``INTER_AREA`` and TensorFlow's
anti-aliased bilinear differ enough to cost a third of the per-frame accuracy.
"""

from __future__ import annotations

import tensorflow as tf


def resize_uint8(images, size: int) -> tf.Tensor:
    """(..., h, w, channels) of any dtype → (..., size, size, channels) uint8: anti-aliased bilinear, rounded."""
    resized = tf.image.resize(tf.cast(images, tf.float32), (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
