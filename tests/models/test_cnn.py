"""The CNN builders: shapes, dtypes, any input size, and learning on a fixed tiny batch."""

import keras
import numpy as np
import pytest

from common import config as config_lib
from models import cnn
from pipelines.configs.image import PRESETS


@pytest.fixture
def tiny_config():
    return config_lib.replace(PRESETS["tiny"], image_size=16, filters=(8, 16), dense_units=16).model


def test_classifier_takes_uint8_of_any_size(tiny_config):
    model = cnn.build_image_classifier(tiny_config, num_classes=3)
    for height, width in ((16, 16), (40, 25), (7, 90)):
        images = np.random.default_rng(0).integers(0, 256, (2, height, width, 3), dtype=np.uint8)
        probabilities = model(images).numpy()
        assert probabilities.shape == (2, 3) and probabilities.dtype == np.float32
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    assert model.input.name == "images" and model.input.dtype == "uint8"


@pytest.mark.parametrize("head, pooling", [("flatten", "max"), ("global_average", "max"), ("flatten", "none")])
def test_encoder_variants(head, pooling):
    encoder = cnn.build_cnn_encoder(16, (8, 16), 1, dense_units=0, head=head, pooling=pooling)
    features = encoder(np.zeros((1, 16, 16, 3), np.float32))
    # flatten keeps the 4x4 spatial grid (position); the global average keeps only channels.
    assert features.shape == ((1, 16) if head == "global_average" else (1, 4 * 4 * 16))


def test_pooling_variants_have_the_same_parameter_budget():
    pooled = cnn.build_cnn_encoder(16, (8, 16), 1, dense_units=8, pooling="max")
    strided = cnn.build_cnn_encoder(16, (8, 16), 1, dense_units=8, pooling="none")
    assert pooled.count_params() == strided.count_params()


def test_loss_goes_down_on_a_fixed_batch(tiny_config):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(16) % 3
    model = cnn.build_image_classifier(tiny_config, num_classes=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    history = model.fit(images, labels, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_standardization_layer_round_trips():
    from models.standardization import PerImageStandardization

    layer = PerImageStandardization()
    images = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3)).astype(np.float32)
    output = layer(images).numpy()
    np.testing.assert_allclose(output.reshape(2, -1).mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(output.reshape(2, -1).std(-1), 1, atol=1e-3)
    clone = PerImageStandardization.from_config(layer.get_config())
    np.testing.assert_allclose(clone(images).numpy(), output)
