"""Classifies every frame of one video file or live source and writes its outputs: the one
implementation of "classify one video" that classify-video, its folder mode and the library job use.

``run_source`` is the loop: frames from a reader (``video_reader.VideoReader`` for files,
``live_source.LiveReader`` for streams) go through a classifier (``frame_classifiers``: in-process or
REST) in batches, and every output is written as it goes (``outputs``: frames.csv rows, the timeline,
the label segments; ``annotated_writer``: annotated.mp4 and the page's preview; ``video_page``:
index.html). Threads overlap decoding, resizing + inference and encoding; memory does not grow with
the length of the video.
"""

from __future__ import annotations

import argparse
import array
import json
import os
import pathlib
import re
import signal
import sys
import threading
import time

import numpy as np
from tqdm import tqdm

from common.errors import UserError
from serving.classify import frame_classifiers, litert_classifiers, live_source, video_page, video_reader
from serving.classify.annotated_writer import AnnotatedWriter, h264_available
from serving.classify.outputs import Rows, Segments, Timeline
from serving.classify.prefetch import prefetch


def check_args(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.threads < 0 or args.decoder_threads < 0:
        raise UserError("--threads and --decoder-threads must be 0 (automatic) or more")
    if not 0 < args.annotate_scale <= 1:
        raise UserError(f"--annotate-scale must be in (0, 1], got {args.annotate_scale}")
    if args.smooth < 0:
        raise UserError(f"--smooth must be 0 (off) or a number of frames, got {args.smooth}")
    if args.retries < 0 or args.retry_delay < 0:
        raise UserError("--retries and --retry-delay must be 0 or more")
    if getattr(args, "runtime", "savedmodel") == "litert" and args.server:
        raise UserError("--runtime litert runs the .tflite file in this process: leave out --server")


def make_classifier(args: argparse.Namespace):
    if getattr(args, "runtime", "savedmodel") == "litert":  # the library job's arguments have no runtime
        classifier = litert_classifiers.LiteRTClassifier(args.model, args.export_dir, args.precision, args.threads)
        if args.image_size and args.image_size != classifier.image_size:
            raise UserError(f"--image-size {args.image_size}: the LiteRT model takes {classifier.image_size}")
        return classifier
    if args.server:
        return frame_classifiers.RestClassifier(
            args.model, args.server, args.encoding, args.export_dir, image_size=args.image_size
        )
    classifier = frame_classifiers.LocalClassifier(args.model, args.export_dir, threads=args.threads)
    if args.image_size:
        classifier.image_size = args.image_size
    return classifier


def decoder_threads(args: argparse.Namespace) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return args.decoder_threads or max(1, cores - 1)  # a core left for resizing, inference, encoding


def needs_preview(info: video_reader.VideoInfo) -> bool:
    """A file the page cannot play as it is, and an encoder to make one it can."""
    return not video_page.browser_plays(info.path, info.codec) and h264_available()


def open_file(args: argparse.Namespace, path: str | os.PathLike, image_size: int | None) -> video_reader.VideoReader:
    info = video_reader.probe(path)
    return video_reader.VideoReader(
        path,
        image_size,
        args.batch_size,
        keep_originals=args.annotate or needs_preview(info),
        decoder_threads=decoder_threads(args),
        decoder=args.decoder,
    )


class _StopOnSignal:
    """SIGINT/SIGTERM: stop reading (a live reader drains what has arrived); a second one acts as usual."""

    def __init__(self, reader):
        self.reader, self.signal_name, self._previous = reader, None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame):
        self.signal_name = signal.Signals(number).name
        if hasattr(self.reader, "stop"):
            self.reader.stop()
        signal.signal(number, self._previous.get(number, signal.SIG_DFL))

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def run_source(
    args,
    classifier,
    reader,
    out: pathlib.Path,
    source_file: pathlib.Path | None,
    *,
    timeline_png: bool = True,
    index_html: bool = True,
    progress_bar: bool = True,
) -> dict:
    """Classifies every frame ``reader`` delivers and writes all outputs to ``out``; returns the summary.

    Args:
        source_file: the video file (None for a live source), played by the page or previewed.
        timeline_png, index_html: write those files (index.html with preview.mp4 when browsers cannot
            play the source); the library job writes only frames.csv and summary.json by default.
        progress_bar: on stderr (off in the library job's worker processes, whose bars would
            overwrite each other).
    """

    info, live = reader.info, source_file is None
    out.mkdir(parents=True, exist_ok=True)
    class_names = list(classifier.class_names)
    fps = info.fps or 25.0
    preview = index_html and not live and needs_preview(info)
    writers = {}
    if args.annotate:
        writers["annotated"] = AnnotatedWriter(out / "annotated.mp4", info.width, info.height, fps, args.annotate_scale)
    if preview:
        scale = min(1.0, video_page.PREVIEW_WIDTH / info.width)
        writers["preview"] = AnnotatedWriter(out / "preview.mp4", info.width, info.height, fps, scale)
    timeline, segments = Timeline(len(class_names)), Segments()
    latencies = array.array("f")  # live: seconds from a frame's arrival to its row flushed to frames.csv
    frames_done, chunks = 0, None
    classifier.reset()
    started = time.perf_counter()
    progress = tqdm(
        total=info.frame_count or None,
        unit="frame",
        file=sys.stderr,
        desc=classifier.model_name,
        mininterval=0.5,
        disable=not progress_bar,
    )
    try:
        with open(out / "frames.csv", "w", encoding="utf-8", newline="") as csv_file, _StopOnSignal(reader) as stop:
            rows = Rows(csv_file, class_names, args.smooth)
            if hasattr(classifier, "encode"):  # through a server: the next batch is encoded during a request
                chunks = prefetch(reader, lambda chunk: classifier.encode(chunk.pixels))
                classify_chunk = classifier.classify
            else:
                chunks, classify_chunk = ((chunk, chunk.pixels) for chunk in reader), classifier
            for chunk, frames in chunks:
                probabilities = np.asarray(classify_chunk(frames), np.float32)  # (n, classes)
                labels, scores = rows.write(chunk.start, chunk.times_s, probabilities)
                if chunk.arrived is not None:
                    csv_file.flush()
                    delays = time.monotonic() - chunk.arrived
                    latencies.extend(delays.astype(np.float32))
                    progress.set_postfix_str(f"latency {1000 * delays.max():.0f} ms", refresh=False)
                timeline.add(chunk.times_s, probabilities)
                segments.add(chunk.start, labels, chunk.times_s)
                if "annotated" in writers:
                    texts = [f"{label} {score:.2f}" for label, score in zip(labels, scores)]
                    writers["annotated"].put(chunk.originals, texts)
                if "preview" in writers:
                    writers["preview"].put(chunk.originals)
                frames_done += len(labels)
                progress.update(len(labels))
                if stop.signal_name and not live:
                    break
        for name in list(writers):
            writers.pop(name).close()
    finally:
        progress.close()
        reader.close()
        if chunks is not None and hasattr(chunks, "close"):
            chunks.close()
        for writer in writers.values():  # an error happened: stop the threads, keep the original error
            try:
                writer.close()
            except BaseException:
                pass
    elapsed = time.perf_counter() - started
    name = source_file.name if source_file else info.path
    if frames_done == 0:
        raise UserError(f"{name} has no decodable frames")
    if reader.warning:
        print(f"warning: {reader.warning}", file=sys.stderr)
    if stop.signal_name:
        print(f"stopped by {stop.signal_name} after {frames_done} frames; outputs cover them", file=sys.stderr)
    if timeline_png:
        timeline.plot(out / "timeline.png", class_names, f"{name}: {classifier.model_name} model")
    summary = {
        "video": {
            "path": str(source_file.resolve()) if source_file else info.path,
            "live": live,
            "codec": info.codec,
            "width": info.width,
            "height": info.height,
            "fps": round(info.fps, 4),
            "frames": frames_done,
            "frames_in_header": info.frame_count,
            "complete": reader.warning is None and stop.signal_name is None,
        },
        "warning": reader.warning,
        "model": classifier.describe(),
        "classes": class_names,
        "smooth": args.smooth,
        "frames_per_second": round(frames_done / elapsed, 2),
        "seconds": round(elapsed, 3),
        "stopped_by": stop.signal_name,
        "outputs": {
            "frames_csv": str(out / "frames.csv"),
            "annotated_mp4": str(out / "annotated.mp4") if args.annotate else None,
            "timeline_png": str(out / "timeline.png") if timeline_png else None,
            "index_html": str(out / "index.html") if index_html else None,
            "preview_mp4": str(out / "preview.mp4") if preview else None,
        },
        "segments": segments.items,
    }
    if live:
        delays_ms = 1000 * np.asarray(latencies, np.float64)
        summary["latency_ms"] = {
            "p50": round(float(np.percentile(delays_ms, 50)), 2),
            "p95": round(float(np.percentile(delays_ms, 95)), 2),
            "max": round(float(delays_ms.max()), 2),
        }
        summary["reconnects"] = reader.reconnects
    if index_html:
        write_page(out, summary, timeline, source_file, preview)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def write_page(out, summary, timeline, source_file, preview) -> None:
    video, model = summary["video"], summary["model"]
    note = ""
    if source_file is None:
        note = "A live source: no recording to play; the timeline and the segments show what was seen."
        video_src = None
    elif preview:
        video_src = "preview.mp4"
        note = f"Browsers cannot play this file's codec ({video['codec'] or 'unknown'}): showing preview.mp4."
    elif video_page.browser_plays(source_file, video["codec"]):
        video_src = video_page.relative_url(source_file, out)
    else:
        video_src = None
        note = (
            f"Browsers cannot play this file's codec ({video['codec'] or 'unknown'}) and no browser-playable "
            "encoder is installed (PyAV with libx264: pip install av) to make a preview."
        )
    timeline.flush()
    video_page.write_page(
        out,
        title=pathlib.Path(video["path"]).name if source_file else video["path"],
        class_names=summary["classes"],
        segments=summary["segments"],
        timeline_times=timeline.times,
        timeline_values=np.array(timeline.values),
        video_src=video_src,
        note=note,
        details=(
            f"{video['frames']} frames, {video['width']}x{video['height']}, {video['fps']:.2f} fps; "
            f"{model['name']} model v{model['version']}, {summary['frames_per_second']:.1f} frames/s"
        ),
    )


def default_out(video: str) -> pathlib.Path:
    source = live_source.parse(video)
    if source is None:
        name = pathlib.Path(video).stem or pathlib.Path(video).resolve().name
    else:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", live_source.describe(source)).strip("_")
    return pathlib.Path("runs") / "classify" / name


def classify(args: argparse.Namespace) -> dict:
    """Classifies one file or live source (``args.video``); returns the summary (also in summary.json)."""
    check_args(args)
    source = live_source.parse(args.video)
    out = pathlib.Path(args.out) if args.out else default_out(args.video)
    if source is None:
        video_reader.probe(args.video)  # bad input fails here, before TensorFlow loads
        classifier = make_classifier(args)
        classifier.warm_up(args.batch_size)
        reader = open_file(args, args.video, classifier.image_size)
    else:
        live_source.probe(source)  # bad input fails here, before TensorFlow loads
        classifier = make_classifier(args)  # then the model: a stream is read from the moment it reopens
        classifier.warm_up(args.batch_size)
        reader = live_source.LiveReader(
            source, classifier.image_size, args.batch_size, args.annotate, args.retries, args.retry_delay
        )
    info = reader.info
    frame_count = f"{info.frame_count} frames in its header" if info.frame_count else "no frame count in its header"
    print(
        f"{info.path}: {info.codec or 'unknown codec'}, {info.width}x{info.height}, {info.fps:.2f} fps, {frame_count}",
        flush=True,
    )
    return run_source(args, classifier, reader, out, pathlib.Path(args.video) if source is None else None)
