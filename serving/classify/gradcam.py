"""Grad-CAM (Selvaraju et al., 2017) over an exported image model: where the CNN looked for the class it chose.

The gradient of the chosen class's score with respect to the last convolutional feature map, averaged
over the map, weighs each of its channels; the weighted sum, ReLU'd and scaled to 0..1, is the heat map
(the backbone's last map, 7x7 for a 224-px MobileNetV2; the small CNN's last block). It needs the
model's layers, which a SavedModel's signatures do not expose, so the Keras model is rebuilt from the
export's ``assets.extra/config.json`` (``models.cnn``) and its variables are assigned from the
SavedModel by name: the heat map explains the exported model itself.
"""

from __future__ import annotations

import json
import pathlib
import types

import cv2
import numpy as np

from common import quiet
from common.errors import UserError


class Explainer:
    """Grad-CAM heat maps of an image classifier built by ``models.cnn.build_image_classifier``."""

    def __init__(self, model):
        import tensorflow as tf  # deferred: bad input is refused before TensorFlow loads

        self._tf = tf
        self.model = model
        self.backbone = "backbone" in [layer.name for layer in model.layers]

    @classmethod
    def from_export(cls, version_dir: pathlib.Path, num_classes: int) -> Explainer:
        """The model of an image export, rebuilt from its config and given the SavedModel's variables."""
        quiet.import_tensorflow()
        import tensorflow as tf  # deferred, as above

        from models import cnn

        settings = json.loads((pathlib.Path(version_dir) / "assets.extra" / "config.json").read_text(encoding="utf-8"))
        if settings.get("stub"):
            raise UserError(f"{version_dir} is a stand-in model without layers to explain")
        settings = {"encoder": "small_cnn", **settings}  # exports from before backbones were small CNNs
        model = cnn.build_image_classifier(types.SimpleNamespace(**settings), num_classes)
        saved = {v.name.rsplit(":", 1)[0]: v for v in tf.saved_model.load(str(version_dir)).variables}
        for variable in model.variables:
            variable.assign(saved[variable.path])
        return cls(model)

    def _feature_map_and_head(self, pixels):
        """The last convolutional feature map of ``pixels`` and a function from it to the probabilities."""
        model = self.model
        x = model.get_layer("resize")(pixels)
        if self.backbone:
            names = [layer.name for layer in model.layers]
            if "backbone_scaling" in names:
                x = model.get_layer("backbone_scaling")(x)
            feature_map = model.get_layer("backbone")(x, training=False)

            def head(a):
                a = model.get_layer("pooled")(a)
                return model.get_layer("probabilities")(model.get_layer("head_dropout")(a, training=False))

            return feature_map, head
        x = model.get_layer("standardize")(x)
        encoder = model.get_layer("cnn_encoder")
        layers = encoder.layers[1:]  # a chain: conv → norm → relu → pool blocks, then the head
        last = max(index for index, layer in enumerate(layers) if "_relu" in layer.name)  # the last block's
        for layer in layers[: last + 1]:
            x = layer(x, training=False)

        def head(a):
            for layer in layers[last + 1 :]:
                a = layer(a, training=False)
            return model.get_layer("probabilities")(model.get_layer("head_dropout")(a, training=False))

        return x, head

    def heatmap(self, pixels: np.ndarray, class_index: int | None = None) -> tuple[np.ndarray, int]:
        """(heat map (map height, map width) in 0..1, the explained class) for one RGB uint8 image."""
        tf = self._tf
        feature_map, head = self._feature_map_and_head(tf.constant(pixels[np.newaxis]))
        with tf.GradientTape() as tape:
            tape.watch(feature_map)
            probabilities = head(feature_map)
            if class_index is None:
                class_index = int(tf.argmax(probabilities[0]))
            score = probabilities[0, class_index]
        gradients = tape.gradient(score, feature_map)[0]  # (h, w, channels)
        weights = tf.reduce_mean(gradients, axis=(0, 1))
        heat = tf.nn.relu(tf.reduce_sum(feature_map[0] * weights, axis=-1)).numpy()
        peak = heat.max()
        return (heat / peak if peak > 0 else heat), class_index


def overlay(pixels: np.ndarray, heat: np.ndarray, strength: float = 0.45) -> np.ndarray:
    """The heat map, upsampled and coloured (jet: blue cold, red hot), blended over the RGB image."""
    height, width = pixels.shape[:2]
    resized = cv2.resize(heat.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    coloured = cv2.applyColorMap(np.uint8(255 * np.clip(resized, 0, 1)), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8(np.clip((1 - strength) * pixels + strength * coloured, 0, 255))
