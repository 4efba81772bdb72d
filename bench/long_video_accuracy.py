"""Per-frame accuracy on a long generated video: ``python -m bench long_video_accuracy``.

Renders a video of consecutive moving-shape segments with per-frame ground truth
(``shape_motion.render_long_video``: 40 segments of 16-24 frames, written to mp4 at 128x128),
runs ``python -m serving.classify.video`` on it with ``--model video`` and ``--model image``, and
compares ``frames.csv`` with the truth, excluding the first 8 frames after each segment change
(the hybrid needs a few frames to see a motion). Target: video >= 0.90, well above image (a
single frame cannot show motion, and the image CNN's classes are shapes, not motions: it is the
frame-by-frame reference, at chance by construction). Needs trained exports in ``export/``;
without them it says so and measures nothing. Run time: about 1 minute.
"""

from __future__ import annotations

import csv
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from bench.support.table import format_table
from pipelines.datasets.embedded import shape_motion
from serving.export import layout

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = "long_video_accuracy"
SKIP_AFTER_CHANGE = 8


def frame_accuracy(frames_csv: pathlib.Path, truth: list[str]) -> tuple[float, float]:
    """(accuracy on all frames, accuracy excluding the first frames after each change)."""
    with open(frames_csv, newline="") as handle:
        predicted = [row["label"] for row in csv.DictReader(handle)]
    truth = truth[: len(predicted)]
    correct = np.array([p == t for p, t in zip(predicted, truth)])
    since_change = np.zeros(len(truth), int)
    for index in range(1, len(truth)):
        since_change[index] = 0 if truth[index] != truth[index - 1] else since_change[index - 1] + 1
    return float(correct.mean()), float(correct[since_change >= SKIP_AFTER_CHANGE].mean())


def main(argv: list[str] | None = None, export_dir: str = "export") -> list[dict]:
    del argv
    rows = []
    video_dir = layout.latest_version_dir(PROJECT_ROOT / export_dir, "video")
    if video_dir is None:
        return [{"bench": BENCH, "metric": "skipped", "value": "no export/video: run make train-video first"}]
    frames, labels = shape_motion.render_long_video(seed=1, num_segments=40, size=128)
    truth = [shape_motion.MOTIONS[label] for label in labels]
    with tempfile.TemporaryDirectory() as scratch:
        path = shape_motion.write_video(pathlib.Path(scratch) / "long.mp4", frames, fps=25)
        for model in ("video", "image"):
            if layout.latest_version_dir(PROJECT_ROOT / export_dir, model) is None:
                continue
            out = pathlib.Path(scratch) / model
            command = [
                sys.executable,
                "-m",
                "serving.classify.video",
                str(path),
                "--model",
                model,
                "--export-dir",
                str(PROJECT_ROOT / export_dir),
                "--out",
                str(out),
                "--no-annotate",
            ]
            result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
            if result.returncode:
                rows.append({"bench": BENCH, "metric": f"{model}: failed", "value": result.stderr.strip()[-200:]})
                continue
            summary = json.loads((out / "summary.json").read_text())
            version = summary["model"].get("version")
            overall, settled = frame_accuracy(out / "frames.csv", truth)
            rows.append(
                {
                    "bench": BENCH,
                    "metric": f"MODEL={model} (v{version}) accuracy, all {len(truth)} frames",
                    "value": round(overall, 4),
                }
            )
            rows.append(
                {
                    "bench": BENCH,
                    "metric": f"MODEL={model} accuracy, >= {SKIP_AFTER_CHANGE} frames after a change",
                    "value": f"{settled:.4f}",
                    "target": ">= 0.90" if model == "video" else "",
                    "ok": settled >= 0.9 if model == "video" else None,
                }
            )
    return rows


if __name__ == "__main__":
    print(format_table(main(sys.argv[1:])))
