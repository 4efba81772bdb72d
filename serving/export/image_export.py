"""Export of the image CNN: ``serving_default`` (uint8 pixels), ``encoded`` (JPEG/PNG bytes), ``classes``."""

from __future__ import annotations

import pathlib
from typing import Any

import cv2
import keras
import numpy as np
import tensorflow as tf

from serving.export import publish, signatures


def build_archive(model: keras.Model, class_names: list[str], image_size: int):
    """Returns the ExportArchive and its endpoint functions (callable eagerly, for checks)."""
    names = tf.constant(class_names)

    def serve(images):
        # (batch, height, width, 3) uint8, any size: the model resizes and scales.
        probabilities = model(images, training=False)
        return {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}

    def encoded(image_bytes):
        # (batch,) JPEG or PNG bytes; images in one batch may differ in size. Decoded at their own size
        # and preprocessed by the model only, so a PNG gets serving_default's answer for its pixels.
        probabilities = signatures.predict_encoded_images(image_bytes, lambda images: model(images, training=False))
        return {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, [tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    archive.add_endpoint("encoded", encoded, [tf.TensorSpec([None], tf.string, name="image_bytes")])
    classes_fn, classes_spec = signatures.classes_endpoint(class_names)
    archive.add_endpoint("classes", classes_fn, classes_spec)
    return archive, {"serving_default": serve, "encoded": encoded}


def export_image_model(
    model: keras.Model,
    class_names: list[str],
    config: dict[str, Any],
    export_root: str | pathlib.Path,
    sample_images: np.ndarray,
) -> tuple[pathlib.Path, dict[str, float]]:
    """Publishes ``export/image/<version>/`` and checks it in a fresh process.

    Args:
        model: the trained image classifier (uint8 images in, probabilities out).
        class_names: class names in output order.
        config: the resolved config, saved as ``assets.extra/config.json``.
        export_root: TF Serving base directory.
        sample_images: a few (n, h, w, 3) uint8 images for the reload check and warm-up.

    Returns:
        The version directory and the reload check's maximum differences per signature.
    """
    image_size = int(config["image_size"])
    archive, endpoints = build_archive(model, class_names, image_size)
    sample_images = np.asarray(sample_images, np.uint8)
    png_bytes = np.array([cv2.imencode(".png", image[..., ::-1])[1].tobytes() for image in sample_images], dtype=object)
    live = {
        "serving_default": endpoints["serving_default"](tf.constant(sample_images)),
        "encoded": endpoints["encoded"](tf.constant(png_bytes)),
    }
    cases = [
        {
            "signature": "serving_default",
            "inputs": {"images": sample_images},
            "expected": {k: v.numpy() for k, v in live["serving_default"].items()},
            "atol": 1e-5,
        },
        # PNG is lossless and the samples are already at model size: identical pixels.
        {
            "signature": "encoded",
            "inputs": {"image_bytes": png_bytes},
            "expected": {k: v.numpy() for k, v in live["encoded"].items()},
            "atol": 1e-5,
        },
    ]
    return publish.publish_checked(
        export_root,
        "image",
        lambda path: archive.write_out(str(path), verbose=False),
        config,
        cases,
        warmup_requests=[
            ("serving_default", {"images": sample_images[:2]}),
            ("encoded", {"image_bytes": png_bytes[:2]}),
        ],
        class_names=class_names,
    )
