"""``--encoder-weights``: a file that fits is loaded, one that does not is refused in one line; imagenet offline
names where the file goes."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from common import config as config_lib
from common import network
from common.errors import UserError
from models import backbones, video_cnn_rnn
from pipelines.configs.video import VideoModelConfig
from pipelines.training import encoder_weights


def _backbone_config(**changes):
    values = dict(
        encoder="mobilenet_v3_small", frame_size=32, filters=(8,), convs_per_block=1, dense_units=8, dropout=0.0,
        cell="lstm", units=8, encoder_weights="none", pixel_difference=False, feature_difference=False, color="on",
    )  # fmt: skip
    values.update(changes)
    return config_lib.replace(VideoModelConfig(), **values)


def test_a_weights_file_that_fits_is_loaded_and_one_that_does_not_is_refused(tmp_path):
    source = backbones.build_backbone("mobilenet_v3_small", 32)
    good = tmp_path / "backbone.weights.h5"
    source.save_weights(str(good))
    config = _backbone_config(encoder_weights=str(good))
    model = video_cnn_rnn.build_video_cnn_rnn(config, 3)
    assert encoder_weights.load(model, config) == str(good)
    for loaded, expected in zip(model.get_layer("frame_encoder").get_layer("backbone").weights, source.weights):
        np.testing.assert_array_equal(loaded.numpy(), expected.numpy())

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    wrong = tmp_path / "other.weights.h5"
    other.save_weights(str(wrong))
    with pytest.raises(UserError, match="does not fit the mobilenet_v3_small encoder"):
        encoder_weights.load(model, _backbone_config(encoder_weights=str(wrong)))
    with pytest.raises(UserError, match="is not imagenet, none"):
        encoder_weights.load(model, _backbone_config(encoder_weights=str(tmp_path / "missing.h5")))


def test_imagenet_offline_fails_fast_naming_where_the_file_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(network, "downloads_reachable", lambda timeout=3.0: False)
    config = _backbone_config(encoder_weights="imagenet")
    model = video_cnn_rnn.build_video_cnn_rnn(config, 3)
    with pytest.raises(UserError, match=r"not cached and the network is unreachable: put .*no_top.*keras/models"):
        encoder_weights.load(model, config)
    small = dataclasses.replace(config, encoder="small_cnn")
    with pytest.raises(UserError, match="needs a keras.applications encoder"):
        encoder_weights.load(model, small)
