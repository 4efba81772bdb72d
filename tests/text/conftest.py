"""Fixtures for the text tests: generated sentences and messy CSV files in tmp_path."""

from __future__ import annotations

import types

import numpy as np
import pytest

from pipelines.datasets.embedded import chinese_reference


def sentences(count: int, distance: int = 3, seed: int = 0) -> tuple[list[str], list[str]]:
    """Balanced embedded-style sentences and their class names."""
    texts, labels = [], []
    for index in range(count):
        label = index % len(chinese_reference.CLASS_NAMES)
        rng = np.random.default_rng([seed, index])
        texts.append(chinese_reference.make_sentence(rng, label, distance))
        labels.append(chinese_reference.CLASS_NAMES[label])
    return texts, labels


@pytest.fixture
def tiny_config():
    """The model fields of a tiny TextConfig (a 10-ish token vocabulary, 8 units)."""
    return types.SimpleNamespace(
        tokenize="character",
        ngrams=1,
        cell="gru",
        units=(8,),
        bidirectional=False,
        head="last",
        embedding_dim=8,
        embedding_dropout=0.0,
        max_length=50,
        dropout=0.0,
    )


@pytest.fixture
def sentence_csv(tmp_path):
    """A CSV of 600 generated Chinese sentences (pet 2 characters before 它's clause), string labels."""
    texts, labels = sentences(600, distance=2)
    path = tmp_path / "sentences.csv"
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in zip(texts, labels)), encoding="utf-8")
    return path
