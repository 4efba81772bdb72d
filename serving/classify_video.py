"""Classify every frame of a video file: ``make classify-video VIDEO=clip.mp4 [MODEL=video|image]``.

    python -m serving.classify_video clip.mp4 --model video [--server URL] [--out DIR]
        [--export-dir export] [--batch-size 32] [--no-annotate] [--smooth N] [--encoding raw|jpeg]
        [--annotate-scale 1.0] [--threads 1] [--decoder-threads 0]

Writes to ``--out`` (default ``runs/classify/<video file stem>/``):

- ``frames.csv``: ``frame, time_s, label, score`` and one column per class (its probability);
- ``summary.json``: the video (path, codec, width, height, fps, frames), the model (name, version,
  local path or server URL), frames per second achieved, the label segments;
- ``annotated.mp4``: every frame with its label and score drawn on it, same frame count and fps as
  the input (MPEG-4 Part 2, the encoder OpenCV's wheels carry; odd sizes are padded by one pixel to
  the even size it needs). Its size is the input's, or ``--annotate-scale`` times it: encoding is
  single-threaded in OpenCV and costs more than decoding (640x360: ~1.2 ms against ~0.65 ms of one
  core per frame), so on 2 cores the annotated video halves the speed; 0.5 makes it ~3x cheaper;
- ``timeline.png``: each class's probability over time.

Three threads overlap: decoding (``serving.video_reader``), resizing + inference in batches (this
thread), and drawing + encoding the annotated video. Queues between them hold one or two chunks of at
most 24 MB of frames each and every output is written as it goes, so memory does not grow with the
length of the video (the timeline keeps at most a few thousand points, averaging neighbouring
frames of long videos). The model is warmed up before the clock starts. Where the time goes, and
how fast these stages could possibly go on the machine at hand: ``python -m bench classify_video``.

Threads: by default TensorFlow runs on one thread (``--threads``; batched inference of these models
needs ~0.1-0.25 ms of one core per frame) and FFmpeg decodes on all cores but one
(``--decoder-threads``), which is left to resizing, inference and the encoder.

``--smooth N`` (off by default): the label and score of a frame come from the mean of the
probabilities of the last N frames (causal); the per-class columns of frames.csv stay the model's
own probabilities.

Exit status 0 on success; 2 with one line on stderr for bad input (missing file, not a video, no
frames, no exported model). A file that breaks off part-way: its frames before the break are
classified and a warning is printed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import queue
import sys
import threading
import time
from collections.abc import Sequence

import cv2
import numpy as np

from pipelines import cli  # sets TF_CPP_MIN_LOG_LEVEL before TensorFlow is imported
from pipelines.errors import UserError
from serving import video_reader

TIMELINE_MAX_POINTS = 4096
MAX_PRINTED_SEGMENTS = 40


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m serving.classify_video", description="Label every frame of a video file."
    )
    parser.add_argument("video", help="the video file (mp4, avi, mov, mkv, webm, ...)")
    parser.add_argument("--model", default="video", choices=["video", "image"], help="video: CNN+RNN; image: CNN")
    parser.add_argument("--server", default=None, help="TF Serving REST URL, e.g. http://127.0.0.1:8501")
    parser.add_argument("--out", default=None, help="output folder (default runs/classify/<video stem>/)")
    parser.add_argument("--export-dir", default="export", help="TF Serving model base directory")
    parser.add_argument("--batch-size", type=int, default=32, help="frames per inference call")
    parser.add_argument("--no-annotate", action="store_true", help="do not write annotated.mp4")
    parser.add_argument(
        "--annotate-scale", type=float, default=1.0, help="annotated.mp4 size / input size (0.5: ~3x faster encoding)"
    )
    parser.add_argument("--smooth", type=int, default=0, help="label from the mean of the last N frames (0: off)")
    parser.add_argument("--encoding", default="raw", choices=["raw", "jpeg"], help="frames sent to --server as")
    parser.add_argument("--image-size", type=int, default=None, help="model input side (default: export config)")
    parser.add_argument(
        "--threads", type=int, default=1, help="TensorFlow threads for in-process inference (0: TensorFlow's choice)"
    )
    parser.add_argument(
        "--decoder-threads", type=int, default=0, help="FFmpeg decoding threads (0: one per core but one)"
    )
    return parser


class AnnotatedWriter:
    """Draws label and score on the decoded frames and encodes them, in its own thread.

    Args:
        path: the output .mp4.
        width, height: the input's frame size (odd sizes are padded to even).
        fps: frames per second of the output (the input's).
        scale: output size / input size (1: the input's size; 0.5 encodes 4x fewer pixels, and
            encoding is what limits the speed: ~1.2 ms of one core per 640x360 frame).
        max_queued: batches of frames waiting to be drawn (bounds memory).
    """

    def __init__(
        self, path: pathlib.Path, width: int, height: int, fps: float, scale: float = 1.0, max_queued: int = 1
    ):
        if not 0 < scale <= 1:
            raise UserError(f"--annotate-scale must be in (0, 1], got {scale}")
        self.scale = scale
        if scale == 1:
            self.size = (width + width % 2, height + height % 2)
        else:  # even sizes, at least 2 pixels
            self.size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
        width, height = self.size
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, self.size)
        if not self._writer.isOpened():
            raise UserError(f"cannot write {path} (MPEG-4 encoder unavailable or folder not writable)")
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self._error: BaseException | None = None
        self.frames_written = 0
        self._thread = threading.Thread(target=self._run, name="annotate", daemon=True)
        self._thread.start()
        text_scale = max(height, 240) / 480.0  # of the output
        self._font_scale, self._thickness = 0.8 * text_scale, max(1, round(2 * text_scale))

    def put(self, frames: list[np.ndarray], texts: list[str]) -> None:
        """Queues a batch of frames and the text to draw on each."""
        if self._error is not None:
            raise self._error
        self._queue.put((frames, texts))

    def _draw(self, frame: np.ndarray, text: str) -> np.ndarray:
        if frame.ndim == 2 or frame.shape[2] != 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR if frame.ndim == 2 else cv2.COLOR_BGRA2BGR)
        height, width = frame.shape[:2]
        if self.scale != 1:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        elif (width, height) != self.size:
            frame = cv2.copyMakeBorder(frame, 0, self.size[1] - height, 0, self.size[0] - width, cv2.BORDER_REPLICATE)
        font = cv2.FONT_HERSHEY_SIMPLEX
        (text_width, text_height), baseline = cv2.getTextSize(text, font, self._font_scale, self._thickness)
        margin = max(2, text_height // 3)
        cv2.rectangle(frame, (0, 0), (text_width + 2 * margin, text_height + baseline + 2 * margin), (0, 0, 0), -1)
        cv2.putText(
            frame,
            text,
            (margin, text_height + margin),
            font,
            self._font_scale,
            (255, 255, 255),
            self._thickness,
            cv2.LINE_AA,
        )
        return frame

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # keep draining so the producer never blocks
            try:
                for frame, text in zip(*item):
                    self._writer.write(self._draw(frame, text))
                    self.frames_written += 1
            except BaseException as error:  # re-raised in the main thread
                self._error = error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise self._error


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
                self._flush()

    def _flush(self) -> None:
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
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        self._flush()
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


def make_classifier(args: argparse.Namespace):
    from serving import frame_classifiers

    if args.server:
        return frame_classifiers.RestClassifier(
            args.model, args.server, args.encoding, args.export_dir, image_size=args.image_size
        )
    classifier = frame_classifiers.LocalClassifier(args.model, args.export_dir, threads=args.threads)
    if args.image_size:
        classifier.image_size = args.image_size
    return classifier


def classify(args: argparse.Namespace) -> dict:
    """Runs the whole thing; returns the summary (also written to summary.json)."""
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.threads < 0 or args.decoder_threads < 0:
        raise UserError("--threads and --decoder-threads must be 0 (automatic) or more")
    if not 0 < args.annotate_scale <= 1:
        raise UserError(f"--annotate-scale must be in (0, 1], got {args.annotate_scale}")
    if args.smooth < 0:
        raise UserError(f"--smooth must be 0 (off) or a number of frames, got {args.smooth}")
    video_reader.probe(args.video)  # bad input fails here, before TensorFlow loads
    classifier = make_classifier(args)
    classifier.warm_up(args.batch_size)
    annotate = not args.no_annotate
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    decoder_threads = args.decoder_threads or max(1, cores - 1)  # a core left for resizing, inference, encoding
    reader = video_reader.VideoReader(
        args.video, classifier.image_size, args.batch_size, keep_originals=annotate, decoder_threads=decoder_threads
    )
    info = reader.info
    frame_count = f"{info.frame_count} frames in its header" if info.frame_count else "no frame count in its header"
    print(
        f"{info.path}: {info.codec or 'unknown codec'}, {info.width}x{info.height}, {info.fps:.2f} fps, {frame_count}",
        flush=True,
    )
    out = pathlib.Path(args.out) if args.out else pathlib.Path("runs") / "classify" / pathlib.Path(args.video).stem
    out.mkdir(parents=True, exist_ok=True)
    class_names = list(classifier.class_names)

    from tqdm import tqdm

    writer = None
    if annotate:
        writer = AnnotatedWriter(out / "annotated.mp4", info.width, info.height, info.fps or 25.0, args.annotate_scale)
    timeline, segments = Timeline(len(class_names)), Segments()
    recent = collections.deque(maxlen=max(args.smooth, 1))
    frames_done = 0
    started = time.perf_counter()
    progress = tqdm(
        total=info.frame_count or None, unit="frame", file=sys.stderr, desc=f"{classifier.model_name}", mininterval=0.5
    )
    try:
        with open(out / "frames.csv", "w", encoding="utf-8", newline="") as csv_file:
            csv_file.write(",".join(["frame", "time_s", "label", "score", *class_names]) + "\n")
            for chunk in reader:
                probabilities = np.asarray(classifier(chunk.pixels), np.float32)  # (n, classes)
                if args.smooth > 1:
                    decided = []
                    for row in probabilities:
                        recent.append(row)
                        decided.append(np.mean(recent, axis=0))
                    decided = np.array(decided)
                else:
                    decided = probabilities
                top = decided.argmax(axis=-1)
                scores = decided[np.arange(len(top)), top]
                labels = [class_names[index] for index in top]
                lines = []
                for offset, (label, score) in enumerate(zip(labels, scores)):
                    values = ",".join(f"{value:.6f}" for value in probabilities[offset])
                    lines.append(f"{chunk.start + offset},{chunk.times_s[offset]:.4f},{label},{score:.6f},{values}\n")
                csv_file.write("".join(lines))
                timeline.add(chunk.times_s, probabilities)
                segments.add(chunk.start, labels, chunk.times_s)
                if writer is not None:
                    writer.put(chunk.originals, [f"{label} {score:.2f}" for label, score in zip(labels, scores)])
                frames_done += len(top)
                progress.update(len(top))
        if writer is not None:
            writer.close()
            writer = None
    finally:
        progress.close()
        reader.close()
        if writer is not None:  # an error happened: stop the thread, keep the original error
            try:
                writer.close()
            except BaseException:
                pass
    elapsed = time.perf_counter() - started
    if frames_done == 0:
        raise UserError(f"{args.video} has no decodable frames")
    if reader.warning:
        print(f"warning: {reader.warning}", file=sys.stderr)
    timeline.plot(out / "timeline.png", class_names, f"{pathlib.Path(args.video).name}: {classifier.model_name} model")
    summary = {
        "video": {
            "path": str(pathlib.Path(args.video).resolve()),
            "codec": info.codec,
            "width": info.width,
            "height": info.height,
            "fps": round(info.fps, 4),
            "frames": frames_done,
            "frames_in_header": info.frame_count,
            "complete": reader.warning is None,
        },
        "model": classifier.describe(),
        "classes": class_names,
        "smooth": args.smooth,
        "frames_per_second": round(frames_done / elapsed, 2),
        "seconds": round(elapsed, 3),
        "outputs": {
            "frames_csv": str(out / "frames.csv"),
            "annotated_mp4": str(out / "annotated.mp4") if annotate else None,
            "timeline_png": str(out / "timeline.png"),
        },
        "segments": segments.items,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def print_report(summary: dict) -> None:
    segments = summary["segments"]
    model = summary["model"]
    where = model.get("server") or model.get("path")
    print(
        f"{summary['video']['frames']} frames of {summary['video']['path']} classified by {model['name']} "
        f"v{model['version']} ({where}) at {summary['frames_per_second']:.1f} frames/s"
    )
    print(f"{len(segments)} label segment(s):")
    for segment in segments[:MAX_PRINTED_SEGMENTS]:
        print(
            f"  frames {segment['first_frame']:>7} - {segment['last_frame']:<7} "
            f"({segment['start_s']:.2f} s - {segment['end_s']:.2f} s)  {segment['label']}"
        )
    if len(segments) > MAX_PRINTED_SEGMENTS:
        print(f"  ... {len(segments) - MAX_PRINTED_SEGMENTS} more in summary.json")
    print(f"outputs: {pathlib.Path(summary['outputs']['frames_csv']).parent}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    summary = classify(args)
    print_report(summary)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(cli.run(main))
