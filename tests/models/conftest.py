"""Tiny model settings for the model tests (8 units, a tiny vocabulary); the video one is in tests/conftest.py."""

from __future__ import annotations

import pytest

from pipelines.configs.text import TextModelConfig
from pipelines.configs.textgen import TextGenModelConfig


@pytest.fixture
def tiny_text_config() -> TextModelConfig:
    """The text classifier's settings in miniature: characters, one direction, the final state, 8 units."""
    return TextModelConfig(
        tokenize="character",
        ngrams=1,
        cell="gru",
        units=(8,),
        bidirectional=False,
        head="last",
        wide=False,
        embedding_dim=8,
        embedding_dropout=0.0,
        max_length=50,
        dropout=0.0,
    )


@pytest.fixture
def tiny_generator_config() -> TextGenModelConfig:
    """The character generator's settings in miniature."""
    return TextGenModelConfig(cell="gru", units=(8,), embedding_dim=8, dropout=0.0)
