"""Real footage, people never seen: leave-one-group-out accuracy of ``make train-video``, through the export.

``python -m bench real_actions [--dataset DIR] [--group-pattern REGEX] [-- extra pipeline flags]``
(or ``make bench ARGS=real_actions``; not part of the default ``make bench``: it trains one model per
group, about a minute each on 2 cores). Default data: ``../shared/data/actions/weizmann4`` (4 actions
by 6 actors), one actor held out per fold.

Each fold runs the pipeline as a user would, with split files naming the held-out group as the
test set (validation comes out of the training groups), and exports the model. The exported
SavedModel is then loaded in a fresh process that knows nothing but TensorFlow, and every frame of
each held-out video, at its own size, goes through ``serving_default``: per-frame accuracy after the
first quarter of a training clip, and per-video accuracy (mean probability over those frames).
Printed per fold and averaged, beside the frame-only CNN and the classical baseline of the same run.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from bench.support.table import format_table
from common import cli, formats

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT = False  # `make bench` leaves it out; name it to run it
DEFAULT_DATASET = PROJECT_ROOT.parent / "shared" / "data" / "actions" / "weizmann4"

# Runs in a fresh interpreter with only TensorFlow, NumPy and OpenCV, as a serving client would.
EXPORT_CHECK = textwrap.dedent(
    """
    import json, sys
    import cv2, numpy as np, tensorflow as tf

    version_dir, skip, videos = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    loaded = tf.saved_model.load(version_dir)
    serve = loaded.signatures["serving_default"]
    classes = [c.decode() for c in loaded.signatures["classes"](query=tf.constant([""]))["classes"].numpy()[0]]
    correct = total = videos_correct = 0
    for path, label in videos:
        capture, frames = cv2.VideoCapture(path), []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        probabilities = serve(frames=tf.constant(np.stack(frames)[np.newaxis]))["probabilities"].numpy()[0][skip:]
        target = classes.index(label)
        correct += int((probabilities.argmax(-1) == target).sum())
        total += len(probabilities)
        videos_correct += int(probabilities.mean(axis=0).argmax() == target)
    print(json.dumps({"frame_accuracy": correct / total, "video_accuracy": videos_correct / len(videos)}))
    """
)


def _files_by_group(root: pathlib.Path, pattern: str) -> dict[str, list[pathlib.Path]]:
    groups: dict[str, list[pathlib.Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in formats.VIDEO_EXTENSIONS:
            match = re.search(pattern, path.stem)
            if match:
                groups.setdefault(match.group(1), []).append(path)
    return groups


def run_fold(root, pattern, held_out, groups, work: pathlib.Path, extra: list[str]) -> dict:
    train_list, test_list = work / "train.txt", work / "test.txt"
    train_list.write_text(
        "".join(f"{p.relative_to(root).as_posix()}\n" for g, ps in groups.items() if g != held_out for p in ps)
    )
    test_list.write_text("".join(f"{p.relative_to(root).as_posix()}\n" for p in groups[held_out]))
    command = [
        sys.executable, "-m", "pipelines.video", "--dataset", str(root), "--group-pattern", pattern,
        "--split-files", f"{train_list},{test_list}", "--runs-dir", str(work / "runs"),
        "--export-dir", str(work / "export"), *extra,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"fold {held_out} failed:\n{result.stderr[-3000:]}")
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    metrics = json.loads((pathlib.Path(summary["run_dir"]) / "metrics.json").read_text())
    config = json.loads((pathlib.Path(summary["run_dir"]) / "config.json").read_text())
    videos = [[str(p), p.relative_to(root).parts[0]] for p in groups[held_out]]
    check = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            EXPORT_CHECK,
            summary["export"],
            str(config["num_frames"] // 4),
            json.dumps(videos),
        ],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise RuntimeError(f"export check of fold {held_out} failed:\n{check.stderr[-3000:]}")
    exported = json.loads(check.stdout.strip().splitlines()[-1])
    baseline = metrics.get("baseline", {})
    return {
        "held_out": held_out,
        "videos": len(videos),
        "export_video_accuracy": exported["video_accuracy"],
        "export_frame_accuracy": exported["frame_accuracy"],
        "clip_accuracy": metrics["test"]["clip_accuracy"],
        "clip_frame_accuracy": metrics["test"]["frame_accuracy_after_first_quarter"],
        "frame_only_video_accuracy": baseline.get("video_accuracy"),
        "frame_only_frame_accuracy": baseline.get("whole_videos", {}).get("frame_accuracy"),
        "classical_video_accuracy": metrics["classical_baseline"]["video_accuracy"],
        "classical_frame_accuracy": metrics["classical_baseline"]["frame_accuracy"],
        "epochs_run": metrics["epochs_run"],
        "fit_seconds": metrics["fit_seconds"],
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench real_actions")
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--group-pattern", default=r"^(actor\d+)_")
    parser.add_argument("extra", nargs="*", help="further pipeline flags (after --)")
    args = parser.parse_args(argv)
    root = pathlib.Path(args.dataset)
    if not root.is_dir():
        print(f"real_actions: skipped, no dataset at {root}", file=sys.stderr)
        return []
    groups = _files_by_group(root, args.group_pattern)
    folds = []
    with tempfile.TemporaryDirectory() as temporary:
        for held_out in sorted(groups):
            work = pathlib.Path(temporary) / held_out
            work.mkdir()
            fold = run_fold(root, args.group_pattern, held_out, groups, work, args.extra)
            print(json.dumps(fold), file=sys.stderr, flush=True)
            folds.append(fold)

    def mean(key):
        values = [f[key] for f in folds if f[key] is not None]
        return float(np.mean(values)) if values else None

    name = f"real_actions ({root.name}, {len(folds)} folds, one {args.group_pattern} group left out)"
    metrics = [
        ("hybrid via export: per video", "export_video_accuracy", ">= 0.95"),
        ("hybrid via export: per frame (after 1st quarter)", "export_frame_accuracy", ">= 0.90"),
        ("hybrid in-process: per clip", "clip_accuracy", ""),
        ("hybrid in-process: per frame of clips", "clip_frame_accuracy", ""),
        ("frame-only CNN: per video", "frame_only_video_accuracy", ""),
        ("frame-only CNN: per frame", "frame_only_frame_accuracy", ""),
        ("classical (logistic regression): per video", "classical_video_accuracy", ""),
        ("classical (logistic regression): per frame", "classical_frame_accuracy", ""),
    ]
    rows = [{"bench": name, "metric": metric, "value": mean(key), "target": target} for metric, key, target in metrics]
    rows.append({"bench": name, "metric": "training seconds per fold", "value": mean("fit_seconds"), "unit": "s"})
    for row in rows:
        target = row.get("target")
        if target and row["value"] is not None:
            row["ok"] = row["value"] >= float(target.split()[-1])
        if row["value"] is not None and not row.get("unit"):
            row["value"] = f"{row['value']:.3f}"  # accuracies: the table's default shows one decimal
    return rows


if __name__ == "__main__":
    print(format_table(main()))
