"""The report's pictures; every one carries a footer with its configuration, seed and run time."""

from __future__ import annotations

import pathlib

import numpy as np

from common.plotting import pyplot as plt

_FOOTER_SIZE = 7


def _save(figure, path: pathlib.Path, footer: str) -> pathlib.Path:
    if footer:
        figure.text(0.005, 0.005, footer, fontsize=_FOOTER_SIZE, color="#555555", ha="left", va="bottom", wrap=True)
    figure.tight_layout(rect=(0, 0.05 if footer else 0, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _normalise(image: np.ndarray) -> np.ndarray:
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def first_layer_filters(kernel: np.ndarray, path: pathlib.Path, title: str, footer: str) -> pathlib.Path:
    """Each 3x3x3 filter of the first convolution as a small RGB tile. ``kernel``: (3, 3, 3, filters)."""
    num_filters = kernel.shape[-1]
    columns = min(16, num_filters)
    rows = int(np.ceil(num_filters / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.7, rows * 0.7 + 0.9), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < num_filters:
            axis.imshow(_normalise(kernel[..., index]), interpolation="nearest")
            axis.set_title(str(index), fontsize=6)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path, footer)


def feature_maps(
    image: np.ndarray,
    blocks: list[tuple[str, np.ndarray]],
    path: pathlib.Path,
    title: str,
    footer: str,
    channels: int = 8,
) -> pathlib.Path:
    """The input and, per block, its most active channels. ``blocks``: (name, (h, w, channels))."""
    figure, axes = plt.subplots(
        len(blocks), channels + 1, figsize=((channels + 1) * 1.0, len(blocks) * 1.1 + 0.8), squeeze=False
    )
    for row, (name, maps) in enumerate(blocks):
        axes[row, 0].imshow(image if row == 0 else np.zeros_like(image) + 255)
        axes[row, 0].axis("off")
        if row == 0:
            axes[row, 0].set_title("input", fontsize=7)
        order = np.argsort(maps.reshape(-1, maps.shape[-1]).mean(axis=0))[::-1][:channels]
        for column, channel in enumerate(order, start=1):
            axis = axes[row, column]
            axis.imshow(maps[..., channel], cmap="viridis", interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 1:
                axis.set_ylabel(f"{name}\n{maps.shape[0]}x{maps.shape[1]}", fontsize=7)
        for column in range(len(order) + 1, channels + 1):
            axes[row, column].axis("off")
        if row:
            axes[row, 0].text(0.5, 0.5, name, ha="center", va="center", fontsize=7, transform=axes[row, 0].transAxes)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path, footer)


def image_strip(images: list[np.ndarray], labels: list[str], path: pathlib.Path, title: str, footer: str):
    figure, axes = plt.subplots(1, len(images), figsize=(1.3 * len(images), 1.9), squeeze=False)
    for axis, image, label in zip(axes[0], images, labels):
        axis.imshow(image, interpolation="nearest")
        axis.set_title(label, fontsize=7)
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    return _save(figure, path, footer)


def accuracy_vs_shift(
    shifts: list[int], series: dict[str, list[float]], chance: float, path: pathlib.Path, title: str, footer: str
) -> pathlib.Path:
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for name, accuracies in series.items():
        axis.plot(shifts, accuracies, marker="o", label=name)
    axis.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    axis.set_xlabel("shift of the object from where training put it (pixels)")
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(title, fontsize=10)
    return _save(figure, path, footer)


def ratio_bars(rows: list[tuple[str, dict[str, float]]], path: pathlib.Path, title: str, footer: str):
    """GRU/LSTM ratios: one group per model, one bar per quantity; 1.0 means equal."""
    quantities = list(rows[0][1])
    width = 0.8 / len(quantities)
    figure, axis = plt.subplots(figsize=(7.0, 4.0))
    positions = np.arange(len(rows))
    for index, quantity in enumerate(quantities):
        values = [values[quantity] for _, values in rows]
        bars = axis.bar(positions + index * width, values, width, label=quantity)
        axis.bar_label(bars, fmt="%.2f", fontsize=7)
    axis.axhline(1.0, color="black", linewidth=1)
    axis.axhline(0.75, color="grey", linestyle="--", linewidth=1, label="3/4 (gate count)")
    axis.set_xticks(positions + width * (len(quantities) - 1) / 2, [name for name, _ in rows])
    axis.set_ylabel("GRU / LSTM")
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=10)
    return _save(figure, path, footer)


def per_class_bars(
    class_names: list[str], series: dict[str, list[float]], chance: float, path: pathlib.Path, title: str, footer: str
):
    width = 0.8 / len(series)
    figure, axis = plt.subplots(figsize=(7.0, 4.0))
    positions = np.arange(len(class_names))
    for index, (name, values) in enumerate(series.items()):
        bars = axis.bar(positions + index * width, values, width, label=name)
        axis.bar_label(bars, fmt="%.2f", fontsize=7)
    axis.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    axis.set_xticks(positions + width * (len(series) - 1) / 2, class_names)
    axis.set_ylim(0, 1.1)
    axis.set_ylabel("test accuracy per frame (after the first quarter)")
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=10)
    return _save(figure, path, footer)


def label_timeline(
    tracks: dict[str, np.ndarray],
    class_names: list[str],
    true_probability: np.ndarray,
    thumbnails: list[tuple[int, np.ndarray]],
    path: pathlib.Path,
    title: str,
    footer: str,
) -> pathlib.Path:
    """Rows of per-frame labels (ground truth first) as colour bands, the model's probability of the
    true class below, and a few frames above."""
    colors = plt.get_cmap("tab10")
    num_frames = len(next(iter(tracks.values())))
    figure = plt.figure(figsize=(10, 2.2 + 0.45 * len(tracks)))
    grid = figure.add_gridspec(3, max(1, len(thumbnails)), height_ratios=[1.1, 0.45 * len(tracks), 1.0])
    for index, (frame_index, frame) in enumerate(thumbnails):
        axis = figure.add_subplot(grid[0, index])
        axis.imshow(frame, interpolation="nearest")
        axis.set_title(f"frame {frame_index}", fontsize=7)
        axis.axis("off")
    bands = figure.add_subplot(grid[1, :])
    for row, labels in enumerate(tracks.values()):
        for frame, label in enumerate(labels):
            bands.broken_barh([(frame, 1)], (row - 0.4, 0.8), color=colors(int(label) % 10))
    bands.set_yticks(range(len(tracks)), list(tracks))
    bands.invert_yaxis()
    bands.set_xlim(0, num_frames)
    bands.set_xticks([])
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors(i % 10)) for i in range(len(class_names))]
    bands.legend(
        handles, class_names, ncol=len(class_names), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.05)
    )
    curve = figure.add_subplot(grid[2, :])
    curve.plot(np.arange(num_frames) + 0.5, true_probability, linewidth=1)
    curve.set_xlim(0, num_frames)
    curve.set_ylim(0, 1.02)
    curve.set_ylabel("P(true)", fontsize=8)
    curve.set_xlabel("frame")
    curve.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    return _save(figure, path, footer)
