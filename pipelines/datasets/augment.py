"""Augmentation inside the tf.data graph: one random transform per clip (the same on all its frames) or per image.

A different crop or brightness per frame would be motion that is not in the video. Per clip:
a random crop of ``crop_scale``..1 of the side at a random place, resized back to the frame size
(a zoom and a shift); brightness and contrast changes; and, only when ``flip`` is set, a
horizontal flip (it turns "left" into "right", so it is off unless the classes are mirror-symmetric).
"""

from __future__ import annotations

import tensorflow as tf


def make_clip_augment(crop_scale: float = 0.8, brightness: float = 0.2, contrast: float = 0.3, flip: bool = False):
    """Returns ``augment(frames, labels)`` for batches: frames uint8 (batch, time, h, w, 3)."""

    def augment(frames, labels):
        shape = tf.shape(frames)
        batch, time, height, width = shape[0], shape[1], shape[2], shape[3]
        scale = tf.random.uniform([batch], crop_scale, 1.0)
        top = tf.random.uniform([batch]) * (1.0 - scale)
        left = tf.random.uniform([batch]) * (1.0 - scale)
        x1, x2 = left, left + scale
        if flip:
            mirrored = tf.random.uniform([batch]) < 0.5
            x1, x2 = tf.where(mirrored, x2, x1), tf.where(mirrored, x1, x2)  # x1 > x2: crop_and_resize flips
        boxes = tf.stack([top, x1, top + scale, x2], axis=1)  # (batch, 4), normalised y1, x1, y2, x2
        images = tf.reshape(tf.cast(frames, tf.float32), tf.stack([batch * time, height, width, 3]))
        images = tf.image.crop_and_resize(
            images, tf.repeat(boxes, time, axis=0), tf.range(batch * time), tf.stack([height, width])
        )
        clips = tf.reshape(images, tf.shape(frames))
        gain = tf.random.uniform([batch, 1, 1, 1, 1], 1.0 - contrast, 1.0 + contrast)
        offset = tf.random.uniform([batch, 1, 1, 1, 1], -brightness, brightness) * 255.0
        mean = tf.reduce_mean(clips, axis=[1, 2, 3, 4], keepdims=True)
        clips = (clips - mean) * gain + mean + offset
        return tf.cast(tf.clip_by_value(tf.round(clips), 0, 255), tf.uint8), labels

    return augment


def make_image_augment(crop_scale: float = 0.8, brightness: float = 0.2, contrast: float = 0.2, flip: bool = True):
    """Returns ``augment(images, labels)`` for batches of images uint8 (batch, h, w, 3): each image a
    clip of one frame to :func:`make_clip_augment` (flips on by default: a photo's left and right mean
    the same)."""
    clip_augment = make_clip_augment(crop_scale, brightness, contrast, flip)

    def augment(images, labels):
        clips, labels = clip_augment(images[:, tf.newaxis], labels)
        return clips[:, 0], labels

    return augment
