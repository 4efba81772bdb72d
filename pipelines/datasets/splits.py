"""Seeded, stratified train/validation/test splits for sources that come without them."""

from __future__ import annotations

import numpy as np

from common.errors import UserError


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


def grouped_split(
    labels: np.ndarray,
    groups: np.ndarray,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits example indices so that no group lands in two splits, classes stratified as far as groups allow.

    Groups are visited in a seeded random order, larger first. The first ones seed the smaller
    splits (each split with a non-zero fraction gets at least one group); every further group goes
    to the split whose per-class shortfall it fills most, relative to that split's target size,
    or, when it fills none, to the split furthest below its target.

    Raises:
        UserError: when there are fewer groups than splits to fill.

    Returns:
        Sorted index arrays ``(train, validation, test)``.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    names, group_of = np.unique(groups, return_inverse=True)
    wanted = [index for index, fraction in enumerate(fractions) if fraction > 0]
    if len(names) < len(wanted):
        parts = " / ".join(("train", "validation", "test")[i] for i in wanted)
        raise UserError(
            f"found {len(names)} group(s); a split into {parts} "
            f"needs at least {len(wanted)} groups (no group may sit in two splits): add recordings of more people or "
            "places, or check --group-pattern"
        )
    classes = np.unique(labels)
    class_index = np.searchsorted(classes, labels)
    counts = np.zeros((len(names), len(classes)), np.int64)  # (groups, classes)
    np.add.at(counts, (group_of, class_index), 1)
    totals = counts.sum(axis=0)
    targets = np.outer(np.asarray(fractions, np.float64), totals)  # (splits, classes)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    filled = np.zeros_like(targets)
    assignment = np.full(len(names), -1)
    seeds = sorted(wanted, key=lambda split: fractions[split])[:-1]  # every split but the largest
    for position, group in enumerate(order):
        if position < len(seeds):
            choice = seeds[position]
        else:
            shortfall = np.maximum(targets - filled, 0)  # (splits, classes)
            useful = np.minimum(shortfall, counts[group]).sum(axis=1) / np.maximum(targets.sum(axis=1), 1e-9)
            useful[[s for s in range(3) if s not in wanted]] = -1
            if useful.max() > 0:
                choice = int(useful.argmax())
            else:
                fill = filled.sum(axis=1) / np.maximum(targets.sum(axis=1), 1e-9)
                fill[[s for s in range(3) if s not in wanted]] = np.inf
                choice = int(fill.argmin())
        assignment[group] = choice
        filled[choice] += counts[group]
    return tuple(np.flatnonzero(assignment[group_of] == split).astype(np.int64) for split in range(3))
