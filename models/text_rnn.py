"""Recurrent text classifier on raw strings: TextVectorization → Embedding → GRU/LSTM/SimpleRNN → softmax.

Optionally Wide & Deep: a "wide" branch, a bag of n-grams (sublinear TF-IDF, L2-normalised, as a
TF-IDF + logistic-regression baseline sees the text) → Dense logits, is added to the recurrent
branch's logits before the softmax, and both are trained together.

The tokenizer is the model's first layer, so the exported model takes UTF-8 strings as they are
(CONTRACT: preprocessing inside the graph). Word mode splits on whitespace; character mode splits
into Unicode characters, which is what Chinese and Japanese text needs (no spaces between words).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from models.cells import TEXT_CELLS as CELLS

TOKENIZE_MODES = ("auto", "word", "character")
HEADS = ("last", "pooled")
# CJK ideographs, kana and hangul: scripts written without spaces between words.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def choose_tokenize(texts: Sequence[str], mode: str = "auto", cjk_share: float = 0.2) -> str:
    """Resolves ``auto`` to ``character`` when at least ``cjk_share`` of the texts contain CJK, else ``word``."""
    if mode != "auto":
        return mode
    sample = list(texts[:5000])
    with_cjk = sum(1 for text in sample if _CJK.search(text))
    return "character" if sample and with_cjk >= cjk_share * len(sample) else "word"


def make_vectorizer(
    tokenize: str,
    max_tokens: int | None = None,
    vocabulary: Sequence[str] | None = None,
    ngrams: int = 1,
    output_mode: str = "int",
    name: str = "vectorizer",
):
    """The string → token-id layer; adapt it on training text, or give the ``vocabulary`` it learned.

    Ids: 0 is padding (masked), 1 is out-of-vocabulary. Word mode lowercases and strips ASCII
    punctuation; character mode only lowercases (every character, punctuation included, is a token).
    With ``ngrams=2`` the token sequence is every single token followed by every pair of neighbours
    ("狗 很", a character bigram, stands for a word when words are not separated by spaces).
    ``output_mode="count"`` (or ``"tf_idf"`` to adapt IDF weights) gives the wide branch's bag of n-grams.
    """
    if tokenize not in ("word", "character"):
        raise ValueError(f"tokenize must be word or character, got '{tokenize}'")
    if ngrams < 1:
        raise ValueError(f"ngrams must be at least 1, got {ngrams}")
    return layers.TextVectorization(
        max_tokens=max_tokens,
        standardize="lower_and_strip_punctuation" if tokenize == "word" else "lower",
        split="whitespace" if tokenize == "word" else "character",
        ngrams=ngrams if ngrams > 1 else None,
        output_mode=output_mode,
        vocabulary=list(vocabulary) if vocabulary is not None else None,
        name=name,
    )


def recurrent_layer(
    cell: str, units: int, return_sequences: bool, use_cudnn: Any, name: str, return_state: bool = False
) -> layers.Layer:
    """One recurrent layer; GRU/LSTM keep the defaults that the fused (cuDNN) kernel requires."""
    common = dict(return_sequences=return_sequences, return_state=return_state, name=name)
    if cell == "gru":  # tanh/sigmoid, no recurrent_dropout, reset_after=True: cuDNN-compatible
        return layers.GRU(units, reset_after=True, use_cudnn=use_cudnn, **common)
    if cell == "lstm":
        return layers.LSTM(units, use_cudnn=use_cudnn, **common)
    if cell == "simple_rnn":
        return layers.SimpleRNN(units, **common)
    raise ValueError(f"unknown cell '{cell}'; choose one of {', '.join(CELLS)}")


def masked_pooling(sequence, token_ids):
    """Max and mean over the time steps that hold a token: (batch, time, units) → (batch, 2 * units).

    A row with no token at all (an empty string) pools to zeros rather than -inf or 0/0.
    """
    mask = keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(token_ids, 0), sequence.dtype), -1)
    count = keras.ops.sum(mask, axis=1)  # (batch, 1)
    maximum = keras.ops.max(sequence * mask - 1e9 * (1.0 - mask), axis=1)
    maximum = maximum * keras.ops.cast(keras.ops.greater(count, 0), sequence.dtype)
    mean = keras.ops.sum(sequence * mask, axis=1) / keras.ops.maximum(count, 1.0)
    return keras.ops.concatenate([maximum, mean], axis=-1)


def wide_ngrams(tokenize: str) -> int:
    """The wide branch's n-grams: characters 1–3 (Chinese words are 1–3 characters), words 1–2."""
    return 3 if tokenize == "character" else 2


def wide_features(text, tokenize: str, vocabulary: Sequence[str], idf: Sequence[float]):
    """Strings (batch,) → sublinear TF-IDF rows (batch, len(vocabulary)) with unit L2 norm.

    ``(1 + log count) * idf`` over the n-grams in ``vocabulary`` (the out-of-vocabulary column has
    idf 0); a row without any known n-gram (an empty string) stays all zeros.
    """
    counter = make_vectorizer(
        tokenize, vocabulary=vocabulary, ngrams=wide_ngrams(tokenize), output_mode="count", name="wide_vectorizer"
    )
    counts = keras.ops.cast(counter(text), "float32")
    tf_sublinear = keras.ops.where(counts > 0, 1.0 + keras.ops.log(keras.ops.maximum(counts, 1.0)), 0.0)
    weighted = tf_sublinear * keras.ops.convert_to_tensor([float(w) for w in idf], "float32")
    norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(weighted), axis=-1, keepdims=True))
    return weighted / keras.ops.maximum(norm, 1e-12)


def build_text_classifier(
    config: Any,
    vocabulary: Sequence[str],
    num_classes: int,
    use_cudnn: Any = "auto",
    wide: tuple[Sequence[str], Sequence[float]] | None = None,
):
    """Builds the classifier.

    Args:
        config: provides ``tokenize`` (word or character, already resolved), ``ngrams``, ``cell``,
            ``units`` (one entry per recurrent layer), ``bidirectional``, ``head`` (``last``: the
            final state only; ``pooled``: the final state with max and mean over every step),
            ``embedding_dim``, ``embedding_dropout``, ``max_length`` and ``dropout``.
        vocabulary: the adapted vectorizer's vocabulary (``get_vocabulary()``: padding, OOV, tokens).
        num_classes: size of the softmax.
        use_cudnn: passed to GRU/LSTM; ``False`` for a graph that runs on CPU-only servers.
        wide: the wide branch's n-gram vocabulary and IDF weights (``adapt_wide`` in
            pipelines/text.py); required when ``config.wide`` is true (Wide & Deep), unused otherwise.

    Returns:
        A functional model: ``text`` string (batch,) → probabilities float32 (batch, num_classes).
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    if config.head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got '{config.head}'")
    vectorizer = make_vectorizer(config.tokenize, vocabulary=vocabulary, ngrams=config.ngrams)
    token_ids = vectorizer(text)  # (batch, longest in batch)
    # One padding column so that a batch of empty strings still has one (masked) time step, then
    # truncate: a 100k-character input costs max_length steps, not 100k.
    token_ids = keras.ops.pad(token_ids, [[0, 0], [0, 1]])[:, : config.max_length]
    x = layers.Embedding(len(vocabulary), config.embedding_dim, mask_zero=True, name="embedding")(token_ids)
    if config.embedding_dropout:  # drops whole embedding channels, the same at every step
        x = layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    pooled = config.head == "pooled"
    for index, units in enumerate(config.units):
        last = index == len(config.units) - 1
        name = f"{config.cell}_{index}"
        if pooled and last:  # the final state and every step's output: (batch, units), (batch, time, units)
            rnn = recurrent_layer(config.cell, units, True, use_cudnn, name, return_state=True)
            if config.bidirectional:
                outputs = layers.Bidirectional(rnn, name=f"bidirectional_{index}")(x)
                sequence, states = outputs[0], outputs[1:]
                half = len(states) // 2  # forward states, then backward; the first of each is h
                final = layers.Concatenate(name="final_state")([states[0], states[half]])
            else:
                outputs = rnn(x)
                sequence, final = outputs[0], outputs[1]
            x = layers.Concatenate(name="pooled")([final, masked_pooling(sequence, token_ids)])
        else:
            rnn = recurrent_layer(config.cell, units, not last, use_cudnn, name)
            x = layers.Bidirectional(rnn, name=f"bidirectional_{index}")(x) if config.bidirectional else rnn(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    if not config.wide:
        probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
        return keras.Model(text, probabilities, name=f"text_{config.cell}")
    if wide is None:
        raise ValueError("config.wide needs the wide vocabulary and IDF weights (wide=...)")
    deep_logits = layers.Dense(num_classes, name="deep_logits")(x)
    features = wide_features(text, config.tokenize, wide[0], wide[1])
    regularizer = keras.regularizers.L2(config.wide_l2) if config.wide_l2 else None
    wide_logits = layers.Dense(num_classes, kernel_regularizer=regularizer, name="wide_logits")(features)
    logits = layers.Add(name="logits")([deep_logits, wide_logits])
    probabilities = layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(text, probabilities, name=f"text_{config.cell}")
