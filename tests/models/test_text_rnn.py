"""models.text_rnn: shapes and dtypes, tokenisation, parameter counts, a fit step, loss going down."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import text_rnn

VOCABULARY = ["", "[UNK]", "我", "的", "狗", "猫", "很", "聪", "明", "它", "a", " "]


def test_choose_tokenize_picks_characters_for_chinese():
    assert text_rnn.choose_tokenize(["我的狗很聪明", "它可以帮我拿报纸"]) == "character"
    assert text_rnn.choose_tokenize(["this is bad", "a fine film"]) == "word"
    assert text_rnn.choose_tokenize(["this is bad"], "character") == "character"


def test_character_vectorizer_splits_chinese_into_characters():
    vectorizer = text_rnn.make_vectorizer("character")
    vectorizer.adapt(["我的狗很聪明", "我的猫"])
    vocabulary = vectorizer.get_vocabulary()
    assert {"我", "的", "狗", "猫", "聪", "明"} <= set(vocabulary)
    ids = vectorizer(tf.constant(["我的狗", "鱼"])).numpy()
    assert ids.shape == (2, 3)
    assert [vocabulary[i] for i in ids[0]] == ["我", "的", "狗"]
    assert ids[1].tolist() == [1, 0, 0]  # out of vocabulary, then padding


def test_word_vectorizer_splits_on_spaces():
    vectorizer = text_rnn.make_vectorizer("word")
    vectorizer.adapt(["This is bad.", "this is good"])
    assert vectorizer(tf.constant(["this is good"])).shape == (1, 3)


def test_bigram_vectorizer_appends_pairs_of_neighbours():
    vectorizer = text_rnn.make_vectorizer("character", ngrams=2)
    vectorizer.adapt(["我的狗", "我的猫"])
    vocabulary = vectorizer.get_vocabulary()
    ids = vectorizer(tf.constant(["我的狗"])).numpy()[0]
    assert [vocabulary[i] for i in ids] == ["我", "的", "狗", "我 的", "的 狗"]


@pytest.mark.parametrize(
    "cell, bidirectional, head, ngrams",
    [
        ("gru", False, "last", 1),
        ("lstm", False, "pooled", 1),
        ("simple_rnn", False, "last", 1),
        ("gru", True, "pooled", 2),
        ("lstm", True, "pooled", 1),
    ],
)
def test_shapes_and_dtypes(tiny_text_config, cell, bidirectional, head, ngrams):
    config = dataclasses.replace(
        tiny_text_config, cell=cell, bidirectional=bidirectional, head=head, ngrams=ngrams, embedding_dropout=0.2
    )
    model = text_rnn.build_text_classifier(config, VOCABULARY, 3)
    assert model.inputs[0].dtype == "string" and model.inputs[0].name == "text"
    # Chinese, English, empty and a string far beyond max_length.
    probabilities = model(tf.constant(["我的狗很聪明", "this is bad", "", "狗" * 100_000]))
    assert probabilities.shape == (4, 3) and probabilities.dtype == tf.float32
    np.testing.assert_allclose(probabilities.numpy().sum(-1), 1.0, rtol=1e-5)
    assert model(tf.constant([""])).shape == (1, 3)  # a batch of nothing but empty strings
    assert np.isfinite(model(tf.constant(["", ""])).numpy()).all()  # pooling over no token at all


def test_masked_pooling_ignores_padding_and_survives_empty_rows():
    sequence = tf.constant([[[1.0, -2.0], [3.0, -4.0], [100.0, 100.0]], [[7.0, 7.0], [8.0, 8.0], [9.0, 9.0]]])
    token_ids = tf.constant([[5, 6, 0], [0, 0, 0]])
    pooled = text_rnn.masked_pooling(sequence, token_ids).numpy()
    np.testing.assert_allclose(pooled, [[3.0, -2.0, 2.0, -3.0], [0.0, 0.0, 0.0, 0.0]])


def test_gru_has_about_three_quarters_of_lstm_parameters(tiny_text_config):
    counts = {}
    for cell in ("gru", "lstm"):
        config = dataclasses.replace(tiny_text_config, cell=cell, units=(64,))
        model = text_rnn.build_text_classifier(config, VOCABULARY, 4)
        counts[cell] = model.get_layer(f"{cell}_0").count_params()
    assert 0.7 < counts["gru"] / counts["lstm"] < 0.8


def test_loss_goes_down_on_a_tiny_batch(tiny_text_config):
    texts = tf.constant(["我的狗很聪明", "我的猫很聪明", "狗很聪明", "猫很聪明"])
    labels = np.array([0, 1, 0, 1])
    model = text_rnn.build_text_classifier(tiny_text_config, VOCABULARY, 2)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.SparseCategoricalCrossentropy())
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(4)
    history = model.fit(dataset, epochs=15, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]


def test_wide_features_are_sublinear_tf_idf_with_unit_norm():
    vocabulary = ["[UNK]", "狗", "很", "狗 很"]
    idf = [0.0, 1.0, 2.0, 3.0]
    rows = text_rnn.wide_features(tf.constant(["狗狗很", "", "鱼"]), "character", vocabulary, idf).numpy()
    expected = np.array([1.0 + np.log(2.0), 2.0, 3.0])  # 狗 twice, 很 once, 狗 很 once
    np.testing.assert_allclose(rows[0], np.concatenate([[0.0], expected / np.linalg.norm(expected)]), rtol=1e-5)
    np.testing.assert_allclose(rows[1:], 0.0)  # empty and out-of-vocabulary rows stay zeros


def test_wide_and_deep_sums_both_branches_logits(tiny_text_config):
    config = dataclasses.replace(tiny_text_config, wide=True, wide_l2=1e-5, head="pooled")
    wide = (["[UNK]", "狗", "猫", "狗 很", "很 聪 明"], [0.0, 1.0, 1.5, 2.0, 2.5])
    with pytest.raises(ValueError, match="wide"):
        text_rnn.build_text_classifier(config, VOCABULARY, 3)
    model = text_rnn.build_text_classifier(config, VOCABULARY, 3, wide=wide)
    assert model.get_layer("wide_logits").kernel.shape == (5, 3)
    probabilities = model(tf.constant(["我的狗很聪明", "this is bad", "", "狗" * 100_000])).numpy()
    assert probabilities.shape == (4, 3) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
