"""The CNN + LSTM/GRU video model: shapes, causality, the stream model, learning on a tiny batch."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import video_cnn_rnn
from tests.helpers import MOBILENET_025


def _clips(batch=2, time=6, height=20, width=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, time, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes_and_dtypes_for_any_frame_size(cell, tiny_video_config):
    model = video_cnn_rnn.build_video_cnn_rnn(tiny_video_config(cell=cell), num_classes=5)
    for clips in (_clips(), _clips(batch=1, time=3, height=16, width=16)):
        probabilities = model(clips).numpy()
        assert probabilities.shape == (*clips.shape[:2], 5) and probabilities.dtype == np.float32
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    assert model.get_layer("frames").output.dtype == "uint8"


@pytest.mark.parametrize("build", [video_cnn_rnn.build_video_cnn_rnn, video_cnn_rnn.build_frame_baseline])
def test_causal_changing_a_later_frame_leaves_earlier_outputs_alone(build, tiny_video_config):
    model = build(tiny_video_config(), num_classes=4)
    clips = _clips(time=8)
    changed = clips.copy()
    changed[:, 5] = 255 - changed[:, 5]
    before, after = model(clips).numpy(), model(changed).numpy()
    np.testing.assert_array_equal(before[:, :5], after[:, :5])
    assert np.abs(before[:, 5] - after[:, 5]).max() > 1e-6


@pytest.mark.parametrize(
    "cell, difference, pixels",
    [("lstm", True, {}), ("gru", True, {}), ("lstm", False, {}), ("lstm", True, {"color": "off"})],
)
def test_stream_in_chunks_equals_whole_clip_inside_a_tf_function(cell, difference, pixels, tiny_video_config):
    # pixels: grey frames with their pixel difference (the default for folders), a state of their own
    config = tiny_video_config(cell=cell, feature_difference=difference, pixel_difference=bool(pixels), **pixels)
    model = video_cnn_rnn.build_video_cnn_rnn(config, num_classes=3)
    stream = video_cnn_rnn.build_stream_model(model, config)
    clips = _clips(time=12)
    whole = tf.function(lambda x: model(x, training=False))(tf.constant(clips)).numpy()
    states = {name: tf.zeros((2, size)) for name, size in video_cnn_rnn.state_sizes(config).items()}
    assert len(states) == (2 if cell == "lstm" else 1) + difference + bool(pixels)
    step = tf.function(lambda inputs: stream(inputs, training=False))
    chunks = []
    for start in range(0, 12, 5):  # chunks of 5, 5, 2
        outputs = step({"frames": tf.constant(clips[:, start : start + 5]), **states})
        states = {name: outputs[name] for name in states}
        chunks.append(outputs["probabilities"].numpy())
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, atol=1e-6)


@pytest.mark.skipif(not MOBILENET_025.exists(), reason=f"no shared ImageNet weights at {MOBILENET_025.parent}")
def test_on_a_pretrained_backbone_the_model_stays_causal_and_streams_as_one_call(tiny_video_config):
    """MobileNet 0.25 with its ImageNet weights as the frame encoder, grey frames, the feature difference."""
    from pipelines.training import encoder_weights

    config = tiny_video_config(
        encoder="mobilenet_0.25", encoder_weights=str(MOBILENET_025), frame_size=32, color="off",
        feature_difference=True,
    )  # fmt: skip
    model = video_cnn_rnn.build_video_cnn_rnn(config, num_classes=4)
    encoder_weights.load(model, config)
    clips = _clips(time=8, height=40, width=48)
    changed = clips.copy()
    changed[:, 5] = 255 - changed[:, 5]
    before, after = model(clips, training=False).numpy(), model(changed, training=False).numpy()
    np.testing.assert_array_equal(before[:, :5], after[:, :5])
    assert np.abs(before[:, 5] - after[:, 5]).max() > 1e-6
    stream = video_cnn_rnn.build_stream_model(model, config)
    states = {name: tf.zeros((2, size)) for name, size in video_cnn_rnn.state_sizes(config).items()}
    chunks = []
    for start in (0, 3):
        outputs = stream({"frames": tf.constant(clips[:, start : start + 3 if start == 0 else 8]), **states})
        states = {name: outputs[name] for name in states}
        chunks.append(outputs["probabilities"].numpy())
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), before, atol=1e-6)


def test_loss_goes_down_on_a_tiny_batch(tiny_video_config):
    model = video_cnn_rnn.build_video_cnn_rnn(tiny_video_config(), num_classes=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    clips = _clips(batch=6, time=4, height=16, width=16)
    labels = np.repeat(np.arange(6)[:, None] % 3, 4, axis=1)
    history = model.fit(clips, labels, epochs=25, batch_size=6, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


def test_exported_recurrent_layer_uses_no_cudnn(tiny_video_config):
    model = video_cnn_rnn.build_video_cnn_rnn(tiny_video_config(), num_classes=2, use_cudnn=False)
    assert model.get_layer("recurrent").use_cudnn is False


def test_grey_frames_are_the_luma_of_the_resized_frames_standardised():
    clips = _clips(batch=1, time=3, height=20, width=24)
    grey = video_cnn_rnn.FramePreprocess(16, grey=True)(clips).numpy()
    resized = tf.image.resize(tf.constant(clips[0], tf.float32), (16, 16), antialias=True)
    luma = tf.image.rgb_to_grayscale(resized).numpy()  # ITU-R BT.601 luma, as the layer
    expected = (luma - luma.mean(axis=(1, 2, 3), keepdims=True)) / luma.std(axis=(1, 2, 3), keepdims=True)
    assert grey.shape == (3, 16, 16, 3)
    for channel in range(3):  # the same luma in every channel
        np.testing.assert_allclose(
            grey[..., channel : channel + 1], expected, atol=2e-3
        )  # its weights: 0.2989, 0.5870, 0.1140
