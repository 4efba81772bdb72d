"""What each stage of classify-video costs, in CPU milliseconds per frame, and the speed that allows.

    python -m bench.support.stage_costs VIDEO [--export-dir export] [--frames 300]   # prints one JSON object

Each stage runs alone on one thread, timed by this process's CPU clock (the least of 3 repeats),
as classify-video runs it: decoding (``serving.video_decode``: PyAV's 4:2:0 planes, one decoder
thread; OpenCV's BGR where PyAV cannot take the file; ``--frames`` frames after the first), then,
over as many frames cycled forwards and backwards through the first 64 decoded: the resize to each
model's input (``serving.video_reader.model_input``, 32 frames a call), batched inference (32 frames
a call, TensorFlow on one thread), and drawing + encoding the annotated frame
(``serving.annotated_writer``, from the decoded frames: H.264 through PyAV on its own threads, or
OpenCV's one-thread MPEG-4 where PyAV is missing; the CPU clock counts every thread). classify-video
runs these stages in overlapping threads, so on ``cores`` cores no arrangement of them can beat

    ceiling = cores / (sum of the stages' CPU per frame)   (with MPEG-4 also at most 1 / encode)

frames per second. ``bench.classify_video`` prints it next to the measured rate, so a ratio to raw
decoding that misses its target can be told apart: lost to overheads, or out of reach of these
libraries on this machine.

Run in a process of its own (``bench.classify_video`` does): TensorFlow's thread pools are fixed
when it starts.
"""

from __future__ import annotations

import collections
import itertools
import json
import pathlib
import sys
import tempfile
import time

import cv2

from common import cli
from serving.classify import frame_classifiers, video_decode, video_reader
from serving.classify.annotated_writer import AnnotatedWriter

BATCH = 32
POOL = 64
REPEATS = 3


def _ms_per_frame(started: float, count: int) -> float:
    """CPU milliseconds per frame of this process since ``started`` (``time.process_time()``)."""
    return 1000.0 * (time.process_time() - started) / max(count, 1)


def measure(video: pathlib.Path, export_root: pathlib.Path, num_frames: int) -> dict:

    cv2.setNumThreads(1)
    frame_classifiers.limit_tensorflow_threads(1)
    pool: list = []  # the first POOL decoded frames (planes or BGR), reused by the later stages
    costs: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(REPEATS):
        frames = video_reader.decoded_frames(video, threads=1)
        if next(frames, None) is None:  # opening the file and the first frame are not timed
            raise SystemExit(f"error: cannot decode {video}")
        decoded, started = 0, time.process_time()
        for _, frame in itertools.islice(frames, num_frames):
            decoded += 1
            if len(pool) < POOL:
                pool.append(frame)
        costs["decode"].append(_ms_per_frame(started, decoded))
        frames.close()
    # Forwards then backwards through the pool, so the encoder sees motion, not a cut every 64 frames.
    cycle = pool + pool[-2:0:-1]
    frames = [cycle[index % len(cycle)] for index in range(num_frames)]
    height, width = video_decode.to_bgr(frames[0]).shape[:2]
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory(prefix="stage-costs-") as scratch:
            writer = AnnotatedWriter(pathlib.Path(scratch) / "annotated.mp4", width, height, 25.0)
            codec = writer.codec
            started = time.process_time()  # the writer's own thread draws (in place) and encodes
            for start in range(0, len(frames), BATCH):
                batch = frames[start : start + BATCH]
                writer.put(batch, ["label 0.99"] * len(batch))
            writer.close()
            costs["draw_and_encode"].append(_ms_per_frame(started, len(frames)))
    for model in ("video", "image"):
        classifier = frame_classifiers.LocalClassifier(model, export_root)
        classifier.warm_up(BATCH)
        for _ in range(REPEATS):
            started = time.process_time()
            batches = [
                video_reader.model_input(frames[start : start + BATCH], classifier.image_size)
                for start in range(0, len(frames), BATCH)
            ]
            costs[f"resize_{model}"].append(_ms_per_frame(started, len(frames)))
            classifier.reset()
            started = time.process_time()
            for batch in batches:
                classifier(batch)
            costs[f"infer_{model}"].append(_ms_per_frame(started, len(frames)))
    best = {stage: min(values) for stage, values in costs.items()}  # the least disturbed of the repeats
    return {
        "video": str(video),
        "frames": decoded,
        "width": width,
        "height": height,
        "encoder": codec,  # h264: threaded (PyAV); mpeg4: one thread (OpenCV)
        "cpu_ms_per_frame": best,
    }


def ceiling_fps(costs: dict, model: str, annotate: bool, cores: int, threaded_encoder: bool = True) -> float:
    """The frames/s bound above for one configuration of classify-video.

    ``threaded_encoder``: the annotated video's encoder runs on several threads (H.264 through
    PyAV); a single-threaded one (OpenCV's MPEG-4) also caps the speed at 1 / its cost.
    """
    stages = [costs["decode"], costs[f"resize_{model}"], costs[f"infer_{model}"]]
    if not annotate:
        return 1000.0 * cores / sum(stages)
    encode = costs["draw_and_encode"]
    bound = cores / (sum(stages) + encode)
    return 1000.0 * (bound if threaded_encoder else min(bound, 1.0 / encode))


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m bench.support.stage_costs")
    parser.add_argument("video")
    parser.add_argument("--export-dir", default="export")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args(argv)
    print(json.dumps(measure(pathlib.Path(args.video), pathlib.Path(args.export_dir), args.frames)))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
