"""Data generated for the pipeline tests: embedded-style sentences (the fixtures write files of them)."""

from __future__ import annotations

import numpy as np

from pipelines.datasets.embedded import chinese_reference


def sentences(count: int, distance: int = 3, seed: int = 0) -> tuple[list[str], list[str]]:
    """Balanced embedded-style sentences and their class names."""
    texts, labels = [], []
    for index in range(count):
        label = index % len(chinese_reference.CLASS_NAMES)
        rng = np.random.default_rng([seed, index])
        texts.append(chinese_reference.make_sentence(rng, label, distance))
        labels.append(chinese_reference.CLASS_NAMES[label])
    return texts, labels
