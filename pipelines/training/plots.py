"""Pictures written next to every run: training curves and the confusion matrix."""

from __future__ import annotations

import pathlib

import numpy as np

from common.plotting import pyplot as plt


def training_curves(history: dict[str, list[float]], path: pathlib.Path, title: str = "") -> None:
    """Loss and every other metric per epoch, training against validation."""
    metrics = [name for name in history if not name.startswith("val_") and name not in ("learning_rate", "lr")]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for axis, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", markersize=3, label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", markersize=3, label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def confusion_matrix(matrix: np.ndarray, class_names: list[str], path: pathlib.Path, title: str = "") -> None:
    """Row-normalised confusion matrix with counts; rows are true classes."""
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.55 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if len(class_names) <= 30:
        for row in range(len(class_names)):
            for column in range(len(class_names)):
                if matrix[row, column]:
                    axis.text(
                        column,
                        row,
                        int(matrix[row, column]),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if rates[row, column] > 0.5 else "black",
                    )
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title(title or "confusion matrix (test)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def accuracy_vs_distance(
    series: dict[str, list[tuple[int, float]]], chance: float, path: pathlib.Path, title: str = ""
) -> None:
    """Test accuracy against dependency distance, one line per model, with the chance level."""
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for name, points in series.items():
        distances, accuracies = zip(*sorted(points))
        axis.plot(distances, accuracies, marker="o", label=name)
    axis.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("distance (distractor characters between the pet and 'it')")
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(title or "memory across distance: SimpleRNN vs LSTM vs GRU")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
