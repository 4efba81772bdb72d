"""Character-level language model: StringLookup → Embedding → GRU/LSTM → softmax over the characters.

Training runs the recurrent layers over whole windows (``build_char_rnn``); generation runs the same
layers' cells one character at a time with an explicit state (``next_character``), which is what the
exported sampling loop and the ``step`` signature call. The cells never use cuDNN kernels, so the
step graph runs on any CPU-only server whatever device it was traced on.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import layers

from models import text_rnn
from models.cells import GENERATOR_CELLS as CELLS

OOV_TOKEN = "[UNK]"


def learn_vocabulary(text: str, max_characters: int, min_count: int = 1) -> list[str]:
    """The ``max_characters`` most frequent characters of ``text`` seen at least ``min_count`` times.

    Ties are broken by code point, so the same text always gives the same ids.
    """
    counts = collections.Counter(text)
    ranked = sorted((c for c in counts if counts[c] >= min_count), key=lambda c: (-counts[c], c))
    return ranked[:max_characters]


def make_lookup(characters: Sequence[str], invert: bool = False) -> layers.StringLookup:
    """Character ↔ id. Id 0 is out-of-vocabulary (``[UNK]``); ids 1.. are ``characters`` in order."""
    return layers.StringLookup(
        vocabulary=list(characters),
        num_oov_indices=1,
        mask_token=None,
        oov_token=OOV_TOKEN,
        invert=invert,
        name="characters_to_ids" if not invert else "ids_to_characters",
    )


def build_char_rnn(config: Any, vocabulary_size: int, use_cudnn: Any = "auto") -> keras.Model:
    """Builds the training model.

    Args:
        config: provides ``cell`` (gru or lstm), ``units`` (one entry per recurrent layer),
            ``embedding_dim`` and ``dropout``.
        vocabulary_size: number of ids, ``[UNK]`` included (``len(characters) + 1``).
        use_cudnn: passed to GRU/LSTM (the fused kernel when a GPU is there, for training speed).

    Returns:
        A functional model: ``token_ids`` int (batch, time) → next-character probabilities
        float32 (batch, time, vocabulary_size).
    """
    if config.cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got '{config.cell}'")
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    x = layers.Embedding(vocabulary_size, config.embedding_dim, name="embedding")(token_ids)
    for index, units in enumerate(config.units):
        x = text_rnn.recurrent_layer(config.cell, units, True, use_cudnn, f"{config.cell}_{index}")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    probabilities = layers.Dense(vocabulary_size, activation="softmax", name="probabilities")(x)
    return keras.Model(token_ids, probabilities, name=f"char_{config.cell}")


def recurrent_layers(model: keras.Model) -> list[layers.Layer]:
    return [layer for layer in model.layers if isinstance(layer, (layers.GRU, layers.LSTM))]


def state_shapes(model: keras.Model) -> list[int]:
    """Units of each state tensor in order: one per GRU layer, two (h, c) per LSTM layer."""
    sizes = []
    for layer in recurrent_layers(model):
        size = layer.cell.state_size
        sizes.extend(size if isinstance(size, (list, tuple)) else [size])
    return [int(s) for s in sizes]


def zero_states(model: keras.Model, batch_size) -> list[tf.Tensor]:
    return [tf.zeros([batch_size, units], tf.float32) for units in state_shapes(model)]


def next_character(model: keras.Model, token_ids: tf.Tensor, states: Sequence[tf.Tensor]):
    """One step of the trained model with explicit state.

    Args:
        model: a model from :func:`build_char_rnn`.
        token_ids: int (batch,), the current character of each row.
        states: the list from :func:`zero_states` or a previous call.

    Returns:
        ``(probabilities (batch, vocabulary_size), new states)``, equal to what the training model
        gives at that position of a sequence.
    """
    x = model.get_layer("embedding")(token_ids)  # (batch, embedding_dim)
    new_states, offset = [], 0
    for layer in recurrent_layers(model):
        count = len(layer.cell.state_size) if isinstance(layer.cell.state_size, (list, tuple)) else 1
        x, layer_states = layer.cell(x, list(states[offset : offset + count]), training=False)
        new_states.extend(layer_states if isinstance(layer_states, (list, tuple)) else [layer_states])
        offset += count
    return model.get_layer("probabilities")(x), new_states
