"""What classify-video keeps while it runs and writes at the end: the timeline, the label segments, the rows.

``Rows`` decides each frame's label (optionally smoothed) and writes its frames.csv row; ``Timeline``
keeps the probabilities in bounded memory for timeline.png and the page; ``Segments`` are the runs of
frames with the same label.
"""

from __future__ import annotations

import collections
import pathlib
from typing import TextIO

import numpy as np

TIMELINE_MAX_POINTS = 4096


class Rows:
    """Labels and frames.csv rows for consecutive frames (``smooth``: label from the mean of the last N)."""

    def __init__(self, csv_file: TextIO, class_names: list[str], smooth: int = 0):
        self.csv_file, self.class_names, self.smooth = csv_file, class_names, smooth
        self._recent = collections.deque(maxlen=max(smooth, 1))
        csv_file.write(",".join(["frame", "time_s", "label", "score", *class_names]) + "\n")

    def write(self, start: int, times_s: np.ndarray, probabilities: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Writes the rows of frames ``start, start + 1, ...``; returns their labels and scores."""
        if self.smooth > 1:
            decided = []
            for row in probabilities:
                self._recent.append(row)
                decided.append(np.mean(self._recent, axis=0))
            decided = np.array(decided)
        else:
            decided = probabilities
        top = decided.argmax(axis=-1)
        scores = decided[np.arange(len(top)), top]
        labels = [self.class_names[index] for index in top]
        lines = []
        for offset, (label, score) in enumerate(zip(labels, scores)):
            values = ",".join(f"{value:.6f}" for value in probabilities[offset])
            lines.append(f"{start + offset},{times_s[offset]:.4f},{label},{score:.6f},{values}\n")
        self.csv_file.write("".join(lines))
        return labels, scores


class Timeline:
    """Probabilities over time in at most ``2 * max_points`` points (pairs merge as the video grows)."""

    def __init__(self, num_classes: int, max_points: int = TIMELINE_MAX_POINTS):
        self.max_points = max_points
        self.stride = 1
        self.times: list[float] = []
        self.values: list[np.ndarray] = []
        self._pending_times: list[float] = []
        self._pending_values: list[np.ndarray] = []
        self.num_classes = num_classes

    def add(self, times_s: np.ndarray, probabilities: np.ndarray) -> None:
        for time_s, row in zip(times_s, probabilities):
            self._pending_times.append(float(time_s))
            self._pending_values.append(row)
            if len(self._pending_times) == self.stride:
                self.flush()

    def flush(self) -> None:
        if not self._pending_times:
            return
        self.times.append(float(np.mean(self._pending_times)))
        self.values.append(np.mean(self._pending_values, axis=0))
        self._pending_times, self._pending_values = [], []
        if len(self.times) >= 2 * self.max_points:
            self.times = [(a + b) / 2 for a, b in zip(self.times[0::2], self.times[1::2])]
            self.values = [(a + b) / 2 for a, b in zip(self.values[0::2], self.values[1::2])]
            self.stride *= 2

    def plot(self, path: pathlib.Path, class_names: list[str], title: str) -> None:
        from common.plotting import pyplot  # deferred: Matplotlib loads once, when the first video ends

        self.flush()
        values = np.array(self.values).reshape(-1, self.num_classes)
        figure, axes = pyplot.subplots(figsize=(12, 4), dpi=100)
        for index, name in enumerate(class_names):
            axes.plot(self.times, values[:, index], label=name, linewidth=1)
        axes.set(xlabel="time (s)", ylabel="probability", ylim=(-0.02, 1.02), title=title)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        figure.tight_layout()
        figure.savefig(path)
        pyplot.close(figure)


class Segments:
    """Runs of consecutive frames with the same label."""

    def __init__(self):
        self.items: list[dict] = []

    def add(self, first_frame: int, labels: list[str], times_s: np.ndarray) -> None:
        for offset, label in enumerate(labels):
            frame, time_s = first_frame + offset, float(times_s[offset])
            if self.items and self.items[-1]["label"] == label:
                self.items[-1]["last_frame"], self.items[-1]["end_s"] = frame, round(time_s, 4)
            else:
                self.items.append(
                    {
                        "label": label,
                        "first_frame": frame,
                        "last_frame": frame,
                        "start_s": round(time_s, 4),
                        "end_s": round(time_s, 4),
                    }
                )

    def main_label(self) -> str:
        """The label of the most frames ('' when there are none)."""
        frames: collections.Counter = collections.Counter()
        for item in self.items:
            frames[item["label"]] += item["last_frame"] - item["first_frame"] + 1
        return frames.most_common(1)[0][0] if frames else ""
