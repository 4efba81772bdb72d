"""The `encoded` signatures decode, then preprocess exactly as the pixel signatures do.

A lossless PNG must get the answer of its pixels at any size, not only the model's: no resize before the
model's own. Checked on the export endpoints (eager, no SavedModel written) at 50x70 and 200x300.
"""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from common import config as config_lib
from models import cnn, video_cnn_rnn
from pipelines.configs.image import PRESETS
from serving.export import image_export, video_export

SIZES = [(50, 70), (200, 300)]


def png(pixels: np.ndarray) -> bytes:
    return cv2.imencode(".png", pixels[..., ::-1])[1].tobytes()


def random_pixels(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def image_endpoints():
    config = config_lib.replace(PRESETS["tiny"], image_size=16, filters=(8, 16), dense_units=16).model
    model = cnn.build_image_classifier(config, num_classes=3)
    head = model.layers[-1]  # larger logits, so that the probabilities show any change in the pixels
    head.set_weights([weight * 3 for weight in head.get_weights()])
    _, endpoints = image_export.build_archive(model, ["a", "b", "c"], config.image_size)
    return endpoints


@pytest.fixture
def video_endpoints(tiny_video_config):
    config = tiny_video_config()
    model = video_cnn_rnn.build_video_cnn_rnn(config, num_classes=3)
    _, endpoints = video_export.build_archive(model, config, ["a", "b", "c"])
    return endpoints, video_cnn_rnn.state_sizes(config)


@pytest.mark.parametrize("height, width", SIZES)
def test_image_png_gets_the_pixels_answer(image_endpoints, height, width):
    pixels = random_pixels(2, height, width, 3)
    expected = image_endpoints["serving_default"](tf.constant(pixels))["probabilities"].numpy()
    encoded = tf.constant([png(picture) for picture in pixels])
    actual = image_endpoints["encoded"](encoded)["probabilities"].numpy()
    assert np.abs(actual - expected).max() <= 1e-6


def test_image_batch_of_mixed_sizes_gets_each_images_answer(image_endpoints):
    pictures = [random_pixels(*size, 3, seed=index) for index, size in enumerate(SIZES)]
    actual = image_endpoints["encoded"](tf.constant([png(picture) for picture in pictures]))["probabilities"]
    for picture, row in zip(pictures, actual.numpy()):
        expected = image_endpoints["serving_default"](tf.constant(picture[np.newaxis]))["probabilities"]
        assert np.abs(row - expected.numpy()[0]).max() <= 1e-6


@pytest.mark.parametrize("height, width", SIZES)
def test_video_png_frames_get_the_pixels_answer(video_endpoints, height, width):
    endpoints, states = video_endpoints
    frames = random_pixels(1, 4, height, width, 3)
    frame_bytes = tf.constant([[png(frame) for frame in frames[0]]])
    expected = endpoints["serving_default"](tf.constant(frames))["probabilities"].numpy()
    actual = endpoints["encoded"](frame_bytes)["probabilities"].numpy()
    assert np.abs(actual - expected).max() <= 1e-6
    zeros = [tf.zeros((1, size)) for size in states.values()]
    expected = endpoints["stream"](tf.constant(frames), *zeros)
    actual = endpoints["stream_encoded"](frame_bytes, *zeros)
    for name in ["probabilities", *states]:
        assert np.abs(actual[name].numpy() - expected[name].numpy()).max() <= 1e-6
