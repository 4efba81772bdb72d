"""Export of the text classifier: ``serving_default`` (raw UTF-8 strings) and ``classes``."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from serving.export import publish, signatures

# Inputs every text export must answer in a fresh process: Chinese, English, empty, very long.
CHECK_TEXTS = ["这家店很好吃", "this is bad", "", "好" * 100_000]


def cpu_servable(model: keras.Model, rebuild_without_cudnn: Callable[[], keras.Model] | None) -> keras.Model:
    """The model to export: with a GPU visible, a copy built with ``use_cudnn=False``.

    Keras traces GRU/LSTM into ``CudnnRNNV3`` whenever a GPU is visible, which CPU-only TF
    Serving cannot run; the same weights in non-cuDNN layers give the same function on any device.
    """
    if rebuild_without_cudnn is None or not tf.config.list_logical_devices("GPU"):
        return model
    cpu_model = rebuild_without_cudnn()
    cpu_model.set_weights(model.get_weights())
    return cpu_model


def build_archive(model: keras.Model, class_names: list[str]):
    """Returns the ExportArchive and its ``serving_default`` function (callable eagerly, for checks)."""
    names = tf.constant(class_names)

    def serve(text):
        # (batch,) UTF-8 strings of any length; the model tokenizes and truncates.
        probabilities = model(text, training=False)
        return {"probabilities": probabilities, "labels": signatures.labels_from(probabilities, names)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, [tf.TensorSpec([None], tf.string, name="text")])
    classes_fn, classes_spec = signatures.classes_endpoint(class_names)
    archive.add_endpoint("classes", classes_fn, classes_spec)
    return archive, serve


def check_string_input(saved_model_dir: pathlib.Path) -> None:
    """Raises unless ``serving_default``'s ``text`` input is DT_STRING (Keras has exported it as float)."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    signature = proto.meta_graphs[0].signature_def["serving_default"]
    dtype = signature.inputs["text"].dtype if "text" in signature.inputs else None
    if dtype != tf.string.as_datatype_enum:
        found = {key: tf.dtypes.as_dtype(value.dtype).name for key, value in signature.inputs.items()}
        raise RuntimeError(f"serving_default inputs are {found}, expected text: string")


def export_text_model(
    model: keras.Model,
    class_names: list[str],
    config: dict[str, Any],
    export_root: str | pathlib.Path,
    sample_texts: list[str],
) -> tuple[pathlib.Path, dict[str, float]]:
    """Publishes ``export/text/<version>/``, checked in a fresh process before it goes live.

    Args:
        model: the trained classifier (string ``text`` in, probabilities out), CPU-servable.
        class_names: class names in output order.
        config: the resolved config, saved as ``assets.extra/config.json``.
        export_root: TF Serving base directory.
        sample_texts: a few real inputs for the reload check and warm-up; :data:`CHECK_TEXTS` are added.

    Returns:
        The version directory and the reload check's maximum differences per signature.
    """
    archive, serve = build_archive(model, class_names)
    texts = np.asarray([text.encode("utf-8") for text in list(sample_texts) + CHECK_TEXTS], dtype=object)
    live = {key: value.numpy() for key, value in serve(tf.constant(texts)).items()}

    def write(path: pathlib.Path) -> None:
        archive.write_out(str(path), verbose=False)
        check_string_input(path)

    return publish.publish_checked(
        export_root,
        "text",
        write,
        config,
        [
            {"signature": "serving_default", "inputs": {"text": texts}, "expected": live, "atol": 1e-5},
            {
                "signature": "classes",
                "inputs": {"query": np.asarray([b""], dtype=object)},
                "expected": {"classes": np.asarray([[name.encode("utf-8") for name in class_names]], dtype=object)},
            },
        ],
        # A few samples plus the Chinese, English and empty checks; not the 100k-character one.
        warmup_requests=[("serving_default", {"text": np.concatenate([texts[:2], texts[-4:-1]])})],
        class_names=class_names,
    )
