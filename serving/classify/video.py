"""Classify every frame of a video, a folder of videos or a live stream: ``make classify-video VIDEO=...``.

    python -m serving.classify.video VIDEO --model video [--server URL] [--out DIR] [--annotate]
        [--runtime savedmodel|litert] [--precision float32|float16|int8]
        [--export-dir export] [--batch-size 32] [--smooth N] [--encoding png|jpeg|raw]
        [--annotate-scale 1.0] [--threads 1] [--decoder-threads 0] [--retries 3] [--retry-delay 1]

``VIDEO`` is a file, a folder (``serving.classify_folder``: every video under it, one model load),
a stream URL (rtsp://, http(s)://, udp://, ...) or a camera index (``serving.live_source``).
Writes to ``--out`` (default ``runs/classify/<video file stem>/``):

- ``frames.csv``: ``frame, time_s, label, score`` and one column per class (its probability);
- ``summary.json``: the video (path, codec, width, height, fps, frames), the model (name, version,
  local path or server URL), frames per second achieved, the label segments (and, for a live
  source, the delay from each frame's arrival to its row in frames.csv);
- ``timeline.png``: each class's probability over time;
- ``index.html`` (``serving.classify.video_page``): the video with the current label in sync, the timeline
  with a cursor and the segments as links that seek (plus ``preview.mp4`` when browsers cannot play
  the source's codec);
- ``annotated.mp4`` only with ``--annotate`` (``serving.annotated_writer``): every frame with its
  label and score drawn on it, H.264 (browser-playable) where PyAV is installed, else MPEG-4.

``--runtime litert`` runs the ``.tflite`` file of ``make export-lite`` at ``--precision`` (default
float32) with the LiteRT runtime instead of the SavedModel (``serving.classify.litert_classifiers``):
one frame per call, states carried, as on a device; the outputs are the same files.

Without ``--annotate`` nothing is re-encoded, so the command runs at the speed of decoding. Threads
overlap: decoding (``serving.video_reader``), resizing + inference in batches (this thread), and
encoding. Queues between them hold one or two chunks of at most 24 MB of frames each and every
output is written as it goes, so memory does not grow with the length of the video. The model is
warmed up before the clock starts. Where the time goes: ``python -m bench classify_video``.

Threads: by default TensorFlow runs on one thread (``--threads``) and FFmpeg decodes on all cores
but one (``--decoder-threads``). ``--smooth N`` (off by default): the label and score of a frame come
from the mean of the probabilities of the last N frames (causal); the per-class columns of
frames.csv stay the model's own probabilities.

SIGINT/SIGTERM (Ctrl-C) stop at the next batch and every output is written for the frames done
(a live source: every frame that had arrived). Exit status 0 on success; 2 with one line on stderr
for bad input (missing file, not a video, no frames, no exported model or LiteRT file, unreachable stream, camera
that does not exist, folder with no videos); 1 when some videos of a folder failed. A file that
breaks off part-way: its frames before the break are classified and a warning is printed.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

from common import cli  # its common.quiet sets the native log levels before TensorFlow is imported
from serving.classify import folder, litert_classifiers, live_source, runner
from serving.export import litert_convert

MAX_PRINTED_SEGMENTS = 40


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m serving.classify.video",
        description="Label every frame of a video file, a folder of videos, a stream URL or a camera.",
    )
    parser.add_argument(
        "video", help="a video file, a folder of videos, a stream URL (rtsp/http/udp) or a camera index"
    )
    parser.add_argument("--model", default="video", choices=["video", "image"], help="video: CNN+RNN; image: CNN")
    parser.add_argument("--server", default=None, help="TF Serving REST URL, e.g. http://127.0.0.1:8501")
    parser.add_argument(
        "--runtime",
        default="savedmodel",
        choices=litert_classifiers.RUNTIMES,
        help="savedmodel, or litert: the .tflite of make export-lite, one frame per call",
    )
    parser.add_argument(
        "--precision", default="float32", choices=litert_convert.PRECISIONS, help="--runtime litert: which file"
    )
    parser.add_argument("--out", default=None, help="output folder (default runs/classify/<video stem>/)")
    parser.add_argument("--export-dir", default="export", help="TF Serving model base directory")
    parser.add_argument("--batch-size", type=int, default=32, help="frames per inference call (live: at most)")
    parser.add_argument("--annotate", action="store_true", help="also write annotated.mp4 (label drawn on frames)")
    parser.add_argument(
        "--no-annotate", action="store_true", help=argparse.SUPPRESS
    )  # kept for old scripts: not annotating is the default
    parser.add_argument("--annotate-scale", type=float, default=1.0, help="annotated.mp4 size / input size")
    parser.add_argument("--smooth", type=int, default=0, help="label from the mean of the last N frames (0: off)")
    parser.add_argument(
        "--encoding", default="png", choices=["png", "jpeg", "raw"], help="frames sent to --server as (png: exact)"
    )
    parser.add_argument("--image-size", type=int, default=None, help="model input side (default: export config)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads for in-process inference, TensorFlow or LiteRT (0: its choice)"
    )
    parser.add_argument(
        "--decoder-threads", type=int, default=0, help="FFmpeg decoding threads (0: one per core but one)"
    )
    parser.add_argument(
        "--decoder", default="pyav", choices=["pyav", "opencv"], help="files: PyAV's 4:2:0 planes or OpenCV's BGR"
    )
    parser.add_argument("--retries", type=int, default=3, help="live: reconnections to a dropped stream")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="live: seconds between reconnections")
    return parser


def print_report(summary: dict) -> None:
    segments = summary["segments"]
    model = summary["model"]
    where = model.get("server") or model.get("path")
    print(
        f"{summary['video']['frames']} frames of {summary['video']['path']} classified by {model['name']} "
        f"v{model['version']} ({where}) at {summary['frames_per_second']:.1f} frames/s"
    )
    if "latency_ms" in summary:
        latency = summary["latency_ms"]
        print(f"delay from arrival to row: median {latency['p50']:.0f} ms, 95th percentile {latency['p95']:.0f} ms")
    print(f"{len(segments)} label segment(s):")
    for segment in segments[:MAX_PRINTED_SEGMENTS]:
        print(
            f"  frames {segment['first_frame']:>7} - {segment['last_frame']:<7} "
            f"({segment['start_s']:.2f} s - {segment['end_s']:.2f} s)  {segment['label']}"
        )
    if len(segments) > MAX_PRINTED_SEGMENTS:
        print(f"  ... {len(segments) - MAX_PRINTED_SEGMENTS} more in summary.json")
    print(f"outputs: {pathlib.Path(summary['outputs']['frames_csv']).parent} (open index.html to watch)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if live_source.parse(args.video) is None and pathlib.Path(args.video).is_dir():
        return folder.run(args)
    print_report(runner.classify(args))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
