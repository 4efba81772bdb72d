"""The text models' vocabularies, learned from the training texts only (the validation and test texts never)."""

from __future__ import annotations

import tensorflow as tf

from models import text_rnn


def adapt_vocabulary(texts, tokenize: str, max_tokens: int, ngrams: int = 1) -> list[str]:
    """The vectorizer's vocabulary learned from the training texts."""
    vectorizer = text_rnn.make_vectorizer(tokenize, max_tokens, ngrams=ngrams)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string)).batch(1024))
    return [str(token) for token in vectorizer.get_vocabulary()]


def adapt_wide(texts, tokenize: str, max_tokens: int) -> tuple[list[str], list[float]]:
    """The wide branch's n-gram vocabulary and IDF weights, from the training texts."""
    vectorizer = text_rnn.make_vectorizer(
        tokenize, max_tokens, ngrams=text_rnn.wide_ngrams(tokenize), output_mode="tf_idf", name="wide_vectorizer"
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string)).batch(1024))
    vocabulary = [str(token) for token in vectorizer.get_vocabulary()]
    idf = [float(w) for w in vectorizer._lookup_layer.idf_weights.numpy()]
    idf[0] = 0.0  # the out-of-vocabulary count says nothing about the class
    return vocabulary, idf
