"""models.char_rnn: vocabulary, shapes and dtypes, step-by-step equals whole-sequence, loss going down."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import char_rnn


def test_vocabulary_is_by_frequency_then_code_point_and_drops_rare_characters():
    assert char_rnn.learn_vocabulary("ccbbbaa\n\n\nz", 10, min_count=2) == ["\n", "b", "a", "c"]
    assert char_rnn.learn_vocabulary("ccbbbaa", 2) == ["b", "a"]


def test_lookup_maps_unseen_characters_to_zero():
    lookup = char_rnn.make_lookup(["我", "喜", "\n"])
    ids = lookup(tf.strings.unicode_split(tf.constant("\n我喜欢"), "UTF-8")).numpy()
    assert ids.tolist() == [3, 1, 2, 0]
    assert lookup.get_vocabulary() == [char_rnn.OOV_TOKEN, "我", "喜", "\n"]


@pytest.mark.parametrize("cell", char_rnn.CELLS)
def test_shapes_dtypes_and_step_by_step_equals_whole_sequence(tiny_generator_config, cell):
    model = char_rnn.build_char_rnn(dataclasses.replace(tiny_generator_config, cell=cell, units=(8, 6)), 12)
    assert model.inputs[0].name == "token_ids"
    ids = np.random.default_rng(0).integers(0, 12, (3, 5))
    probabilities = model(ids)
    assert probabilities.shape == (3, 5, 12) and probabilities.dtype == tf.float32
    np.testing.assert_allclose(probabilities.numpy().sum(-1), 1.0, rtol=1e-5)
    assert char_rnn.state_shapes(model) == ([8, 6] if cell == "gru" else [8, 8, 6, 6])
    states = char_rnn.zero_states(model, 3)
    for t in range(5):
        step_probabilities, states = char_rnn.next_character(model, tf.constant(ids[:, t]), states)
        np.testing.assert_allclose(step_probabilities.numpy(), probabilities.numpy()[:, t], atol=1e-6)


def test_loss_goes_down_on_a_tiny_batch(tiny_generator_config):
    model = char_rnn.build_char_rnn(dataclasses.replace(tiny_generator_config, units=(16,)), 6)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    sequence = np.tile([1, 2, 3, 4, 5], 4)  # a cycle: each character determines the next
    inputs, targets = sequence[None, :-1].repeat(8, 0), sequence[None, 1:].repeat(8, 0)
    history = model.fit(inputs, targets, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
