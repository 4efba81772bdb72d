"""Frame encoders: keras.applications backbones and pixel differences keep the model causal and streamable."""

from __future__ import annotations

import numpy as np
import pytest

from models import video_cnn_rnn


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
def test_encoders_stream_like_one_call_and_stay_causal(tiny_video_config, encoder, pixel_difference):
    config = tiny_video_config(
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
