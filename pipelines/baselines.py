"""Classical baselines trained on the same split, so every deep model has a number to beat."""

from __future__ import annotations

import time

import numpy as np


def pixel_logistic_regression(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    size: int = 16,
    max_examples: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """scikit-learn logistic regression on standardised, downsampled RGB pixels."""
    import cv2
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def features(images: np.ndarray) -> np.ndarray:
        return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).reshape(-1) for image in images])

    if len(train_images) > max_examples:
        keep = np.random.default_rng(seed).choice(len(train_images), max_examples, replace=False)
        train_images, train_labels = train_images[keep], train_labels[keep]
    start = time.perf_counter()
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.1))
    classifier.fit(features(train_images).astype(np.float32), train_labels)
    accuracy = float((classifier.predict(features(test_images).astype(np.float32)) == test_labels).mean())
    return {
        "name": f"logistic regression on {size}x{size} pixels (scikit-learn)",
        "accuracy": accuracy,
        "train_examples": int(len(train_images)),
        "seconds": round(time.perf_counter() - start, 2),
    }
