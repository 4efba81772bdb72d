"""The one tf.data order every pipeline uses: cache, shuffle, batch, augment, prefetch."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def batched(
    dataset: tf.data.Dataset,
    batch_size: int,
    training: bool,
    seed: int = 0,
    augment: Callable | None = None,
    cache: bool = True,
    shuffle_buffer: int = 10_000,
) -> tf.data.Dataset:
    """Turns a decoded, unbatched dataset into batches for ``fit``/``evaluate``.

    Order (STYLE.md): cache (when it fits) → shuffle (training only, seeded, after cache so every
    epoch sees a new order) → batch → augment (training only) → prefetch.
    """
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=False)
    if training and augment is not None:
        dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
