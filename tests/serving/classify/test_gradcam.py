"""Grad-CAM peaks where the object is: a CNN that learnt to find a shape looks at the shape."""

from __future__ import annotations

import keras
import numpy as np

from common import config as config_lib
from models import cnn
from pipelines.configs.image import PRESETS
from serving.classify import gradcam

SIZE = 32


def _scene(rng, kind: int, quadrant: int) -> np.ndarray:
    """Grey noise with a bright square (kind 0) or a bright cross (kind 1) in one quadrant."""
    image = rng.integers(40, 90, (SIZE, SIZE, 3)).astype(np.uint8)
    top, left = (quadrant // 2) * SIZE // 2 + 3, (quadrant % 2) * SIZE // 2 + 3
    if kind == 0:
        image[top : top + 10, left : left + 10] = 230
    else:
        image[top + 4 : top + 6, left : left + 10] = 230
        image[top : top + 10, left + 4 : left + 6] = 230
    return image


def test_the_heat_map_peaks_in_the_quadrant_that_holds_the_object():
    rng = np.random.default_rng(0)
    kinds, quadrants = rng.integers(0, 2, 600), rng.integers(0, 4, 600)
    images = np.stack([_scene(rng, k, q) for k, q in zip(kinds, quadrants)])
    settings = config_lib.replace(PRESETS["tiny"], image_size=SIZE, filters=(8, 16), dense_units=16).resolved().model
    model = cnn.build_image_classifier(settings, 2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, kinds, epochs=8, batch_size=32, verbose=0)
    explainer = gradcam.Explainer(model)
    hits = 0
    for quadrant in range(4):
        for kind in range(2):
            picture = _scene(np.random.default_rng(100 + quadrant), kind, quadrant)
            heat, explained = explainer.heatmap(picture)
            row, column = np.unravel_index(heat.argmax(), heat.shape)
            found = (row >= heat.shape[0] // 2) * 2 + (column >= heat.shape[1] // 2)
            hits += int(found == quadrant)
            assert heat.min() >= 0 and heat.max() == 1.0 and explained in (0, 1)
    assert hits >= 7, f"the heat map peaked on the object in {hits} of 8 pictures"
    blended = gradcam.overlay(picture, heat)
    assert blended.shape == picture.shape and blended.dtype == np.uint8
