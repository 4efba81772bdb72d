"""Seeded, stratified train/validation/test splits for sources that come without them."""

from __future__ import annotations

import numpy as np

from pipelines.errors import UserError


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits example indices so that every class keeps its share in each split.

    Every class with at least three examples gets at least one in each split.

    Returns:
        Sorted index arrays ``(train, validation, test)``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in np.unique(labels):
        indices = rng.permutation(np.flatnonzero(labels == label))
        count = len(indices)
        num_validation = int(round(count * fractions[1]))
        num_test = int(round(count * fractions[2]))
        if count >= 3:
            num_validation, num_test = max(1, num_validation), max(1, num_test)
        num_train = count - num_validation - num_test
        parts[0].extend(indices[:num_train])
        parts[1].extend(indices[num_train : num_train + num_validation])
        parts[2].extend(indices[num_train + num_validation :])
    return tuple(np.sort(np.asarray(part, dtype=np.int64)) for part in parts)


def check_classes(class_names: list[str], counts: dict[str, int], source: str) -> None:
    """Rejects sources that cannot train a classifier."""
    if not counts or sum(counts.values()) == 0:
        raise UserError(f"no usable examples found in {source}")
    if len(class_names) < 2:
        raise UserError(
            f"{source} has only one class ({class_names[0] if class_names else 'none'}); "
            "a classifier needs at least two (one sub-folder or label value per class)"
        )
    if min(counts.values()) < 3:
        few = ", ".join(f"{name} ({count})" for name, count in counts.items() if count < 3)
        raise UserError(f"{source}: classes with fewer than 3 examples cannot be split: {few}")
