"""Frame encoders: keras.applications backbones and pixel differences keep the model causal and streamable;
``--encoder-weights`` loads what fits and refuses what does not, in one line."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest

from common.errors import UserError
from models import frame_encoders, video_cnn_rnn
from pipelines.datasets import tfds_source
from pipelines.training import encoder_weights


def _stream_equals_whole(model, config, frames, chunk=3):
    whole = model(frames, training=False).numpy()
    stream = video_cnn_rnn.build_stream_model(model, config)
    states = {
        name: np.zeros((len(frames), size), np.float32) for name, size in video_cnn_rnn.state_sizes(config).items()
    }
    pieces = []
    for start in range(0, frames.shape[1], chunk):
        outputs = stream({"frames": frames[:, start : start + chunk], **states}, training=False)
        states = {name: outputs[name].numpy() for name in states}
        pieces.append(outputs["probabilities"].numpy())
    return np.abs(np.concatenate(pieces, axis=1) - whole).max()


@pytest.mark.parametrize("encoder, pixel_difference", [("small_cnn", True), ("mobilenet_v3_small", False)])
def test_encoders_stream_like_one_call_and_stay_causal(tiny_config, encoder, pixel_difference):
    config = tiny_config(
        encoder=encoder, frame_size=32, pixel_difference=pixel_difference, feature_difference=True, cell="gru"
    )
    model = video_cnn_rnn.build_video_cnn_rnn(config, 3)
    frames = np.random.default_rng(0).integers(0, 256, (2, 7, 40, 36, 3), dtype=np.uint8)
    assert model(frames).shape == (2, 7, 3)
    assert _stream_equals_whole(model, config, frames) < 1e-5
    changed = frames.copy()
    changed[:, 4:] = 0  # the future does not change the past
    np.testing.assert_allclose(model(changed).numpy()[:, :4], model(frames).numpy()[:, :4], atol=1e-5)
    if pixel_difference:
        assert list(video_cnn_rnn.state_sizes(config).values())[-1] == 32 * 32 * 3


def _backbone_config(**changes):
    values = dict(
        encoder="mobilenet_v3_small", frame_size=32, filters=(8,), convs_per_block=1, dense_units=8, dropout=0.0,
        cell="lstm", units=8, encoder_weights="none",
    )  # fmt: skip
    values.update(changes)
    return types.SimpleNamespace(**values)


def test_a_weights_file_that_fits_is_loaded_and_one_that_does_not_is_refused(tmp_path):
    source = frame_encoders.build_backbone("mobilenet_v3_small", 32)
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
    monkeypatch.setattr(tfds_source, "network_reachable", lambda timeout=3.0: False)
    config = _backbone_config(encoder_weights="imagenet")
    model = video_cnn_rnn.build_video_cnn_rnn(config, 3)
    with pytest.raises(UserError, match=r"not cached and the network is unreachable: put .*no_top.*keras/models"):
        encoder_weights.load(model, config)
    small = types.SimpleNamespace(**{**vars(config), "encoder": "small_cnn"})
    with pytest.raises(UserError, match="needs a keras.applications encoder"):
        encoder_weights.load(model, small)
