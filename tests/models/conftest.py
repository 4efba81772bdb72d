"""Tiny model settings for the model tests (16x16 frames, 8 units, a 10-ish token vocabulary)."""

from __future__ import annotations

import pytest

from common import config as config_lib
from pipelines.configs.text import TextModelConfig
from pipelines.configs.textgen import TextGenModelConfig
from pipelines.configs.video import VideoModelConfig


@pytest.fixture
def tiny_video_config():
    """``tiny_video_config(cell="gru", ...)``: the video model's settings in miniature, resolved."""

    def make(**changes) -> VideoModelConfig:
        values = dict(
            frame_size=16,
            filters=(4, 8),
            convs_per_block=1,
            dense_units=8,
            dropout=0.0,
            cell="lstm",
            units=8,
            feature_difference=False,
            pixel_difference=False,
            color="on",
        )
        values.update(changes)
        return config_lib.replace(VideoModelConfig(), **values)

    return make


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
