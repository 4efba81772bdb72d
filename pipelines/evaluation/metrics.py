"""Classification metrics over a batched dataset: probabilities, accuracy, per class, the confusion matrix."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf


def predict_labels(model: keras.Model, dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Runs the model over a batched ``(x, y)`` dataset; returns (probabilities, true labels).

    The model runs as one function traced once for the dataset's input spec (batch size left open),
    not op by op: eagerly, a recurrent layer steps through time in Python, several times slower.
    """
    forward = tf.function(lambda inputs: model(inputs, training=False), input_signature=[dataset.element_spec[0]])
    probabilities, labels = [], []
    for inputs, targets in dataset:
        probabilities.append(forward(inputs).numpy())
        labels.append(targets.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, per-class accuracy and the confusion matrix; any leading axes are flattened."""
    predicted = probabilities.reshape(-1, probabilities.shape[-1]).argmax(-1)
    labels = labels.reshape(-1)
    num_classes = len(class_names)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = {
        name: float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None for i, name in enumerate(class_names)
    }
    return {
        "accuracy": float((predicted == labels).mean()),
        "num_examples": int(labels.size),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
    }
