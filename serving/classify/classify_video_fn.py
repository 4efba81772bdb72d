"""The library job's work on one video: ``ClassifyVideoFn``, a Beam DoFn (see ``serving.classify.library``).

Each element is the path of one video on any filesystem Beam reads. For each, the DoFn

- skips it when its outputs in OUT are complete (``summary.json``, written last, parses and names
  the same model, and ``frames.csv`` is there): a rerun after a crash or a preemption finishes only
  the rest;
- reads it in place when it is local, else copies it to a local scratch file first (the decoders
  read local files);
- classifies it with ``runner.run_source``, the one implementation of "classify one video" that
  classify-video uses (frames in order, the recurrent state carried), into a local scratch folder,
  then copies ``frames.csv`` (and ``timeline.png`` when asked) and, last, ``summary.json`` to
  ``OUT/<relative path>/`` through Beam's ``FileSystems`` (local, gs://, s3://, hdfs://);
- yields the video's index.csv row: a video that cannot be read has its error there (and nothing in
  OUT); one that breaks off part-way has its outputs for the frames before the break, as in
  classify-video. Both carry a ``reason`` for failures.csv.

The model is loaded once per worker process, never per element: when the first video that is not
complete reaches the process (a resumed job with nothing left to do loads none), through
``apache_beam.utils.shared.Shared``, which the process's threads share. Each DoFn instance works on
its own shallow copy of the loaded classifier: the copy shares the graph and carries its own
recurrent state. With ``--server`` each instance has its own REST client instead (its connection is
not shared).
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import os
import pathlib
import shutil
import socket
import sys
import tempfile
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from serving.classify import folder, frame_classifiers, runner

NAMESPACE = "classify_library"  # the job's Beam metrics
PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
FAILURE_COLUMNS = ["file", "reason"]
_model_loads = 0  # in this worker process; written into each summary.json (tested: one per process)


def relative_path(path: str, prefix: str) -> str:
    """The part of a matched path after the glob's fixed prefix (``serving.classify.library_job.fixed_prefix``)."""
    if prefix and path.startswith(prefix):
        return path[len(prefix) :]
    return path.split("://", 1)[-1].lstrip("/")  # not under the prefix (cannot happen for a match): keep it all


def one_line(error: BaseException) -> str:
    """An exception's message on one line: its first (Beam's and the decoders' go on for pages)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def complete_summary(target: str, model_name: str) -> dict | None:
    """The summary of a video whose outputs under ``target`` are complete, or None (then it is classified).

    Complete: summary.json (written last) parses and names ``model_name``, and frames.csv exists.
    """
    summary_path = FileSystems.join(target, "summary.json")
    if not FileSystems.exists(summary_path) or not FileSystems.exists(FileSystems.join(target, "frames.csv")):
        return None
    try:
        with FileSystems.open(summary_path) as handle:
            summary = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):  # cut off mid-write by a crash: classified again
        return None
    return summary if summary.get("model", {}).get("name") == model_name else None


def _copy_to(local: pathlib.Path, destination: str) -> None:
    with open(local, "rb") as source, FileSystems.create(destination) as target:
        shutil.copyfileobj(source, target, 1 << 20)


class ClassifyVideoFn(beam.DoFn):
    """Classifies one video per element and writes its outputs under ``out``; yields its index row.

    Args:
        args: classify-video's options (``serving.classify.video.build_parser()``'s namespace).
        out: the job's output folder, on any Beam filesystem.
        prefix: the input glob's fixed prefix; a video's outputs go to ``out/<path after it>/``.
        version: the model version to load (the one the launcher found), None with ``args.server``.
        timeline: also write timeline.png.
    """

    def __init__(self, args: argparse.Namespace, out: str, prefix: str, version: int | None, timeline: bool):
        self._args, self._out, self._prefix = args, out, prefix
        self._version, self._timeline = version, timeline
        self._shared_model = shared.Shared()
        self._counters = {}

    def _load_model(self) -> frame_classifiers.LocalClassifier:
        global _model_loads
        started = time.perf_counter()
        args = self._args
        export_dir = pathlib.Path(args.export_dir)
        if not export_dir.is_absolute() and not export_dir.exists():
            # A worker started elsewhere (deploy/beam-worker.Dockerfile's image): the export beside the package.
            export_dir = PROJECT_ROOT / export_dir
        classifier = frame_classifiers.LocalClassifier(args.model, export_dir, args.threads, self._version)
        classifier.warm_up(args.batch_size)
        _model_loads += 1
        print(
            f"worker {socket.gethostname()}:{os.getpid()}: {classifier.model_name} model v{classifier.version} "
            f"loaded in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        return classifier

    def classifier(self):
        """This instance's classifier, made when the first video that is not complete yet needs it (a
        resumed job with nothing left to do loads no model)."""
        if self._classifier is None:
            if self._args.server:
                self._classifier = runner.make_classifier(self._args)
            else:
                # Shared holds a weak reference: this strong one keeps the model loaded while the DoFn lives.
                self._loaded = self._shared_model.acquire(self._load_model, tag=(self._args.model, self._version))
                self._classifier = copy.copy(self._loaded)
        return self._classifier

    def setup(self) -> None:
        self._classifier = self._loaded = None
        for name in ("videos", "frames", "video_ms", "failures", "skipped"):
            self._counters[name] = Metrics.counter(NAMESPACE, name)
        self._started = Metrics.distribution(NAMESPACE, "started_ms")  # min: when the first video started
        self._finished = Metrics.distribution(NAMESPACE, "finished_ms")  # max: when the last one's outputs were in

    def process(self, path: str):
        file = relative_path(path, self._prefix)
        target = FileSystems.join(self._out, file)
        summary = complete_summary(target, self._args.model)
        if summary is not None:
            self._counters["skipped"].inc()
            if summary.get("warning"):
                self._counters["failures"].inc()
            yield {**folder.index_row(file, summary), "reason": summary.get("warning") or ""}
            return
        classifier = self.classifier()
        started = time.time()
        with tempfile.TemporaryDirectory(prefix="classify-library-") as scratch:
            scratch = pathlib.Path(scratch)
            local = path
            try:
                if FileSystems.get_scheme(path) is not None:  # gs://, s3://, ...: the decoders read local files
                    local = str(scratch / pathlib.PurePosixPath(file).name)
                    with FileSystems.open(path) as source, open(local, "wb") as copy_file:
                        shutil.copyfileobj(source, copy_file, 1 << 20)
                reader = runner.open_file(self._args, local, classifier.image_size)
                summary = runner.run_source(
                    self._args,
                    classifier,
                    reader,
                    scratch / "out",
                    pathlib.Path(local),
                    timeline_png=self._timeline,
                    index_html=False,
                    progress_bar=False,
                )
            except Exception as error:  # noqa: BLE001 - a damaged file can make any decoder raise; the others go on
                reason = one_line(error).replace(local, path)
                self._counters["failures"].inc()
                print(f"failed: {file}: {reason}", file=sys.stderr, flush=True)
                yield {**folder.index_row(file, None, reason), "reason": reason}
                return
            warning = (summary["warning"] or "").replace(local, path)
            self._publish(scratch / "out", target, summary, path, warning)
        frames, fps = summary["video"]["frames"], summary["video"]["fps"]
        self._counters["videos"].inc()
        self._counters["frames"].inc(frames)
        self._counters["video_ms"].inc(round(1000 * frames / fps) if fps else 0)
        self._started.update(int(1000 * started))
        self._finished.update(int(1000 * time.time()))
        if warning:
            self._counters["failures"].inc()
        row = {**folder.index_row(file, summary), "reason": warning}
        print(
            f"{file}: {frames} frames, {summary['frames_per_second']:,.1f} frames/s, mostly {row['main_label']}"
            f" (worker {os.getpid()})",
            flush=True,
        )
        yield row

    def _publish(self, scratch_out: pathlib.Path, target: str, summary: dict, path: str, warning: str) -> None:
        """Copies the outputs to ``target``, summary.json last: its presence marks the video complete."""
        names = ["frames.csv"] + (["timeline.png"] if self._timeline else [])
        for name in names:
            _copy_to(scratch_out / name, FileSystems.join(target, name))
        local_source = FileSystems.get_scheme(path) is None
        summary["video"]["path"] = os.path.abspath(path) if local_source else path
        summary["warning"] = warning or None
        summary["outputs"] = {key: None for key in summary["outputs"]}
        summary["outputs"]["frames_csv"] = FileSystems.join(target, "frames.csv")
        if self._timeline:
            summary["outputs"]["timeline_png"] = FileSystems.join(target, "timeline.png")
        summary["worker"] = {"host": socket.gethostname(), "pid": os.getpid(), "model_loads": _model_loads}
        with FileSystems.create(FileSystems.join(target, "summary.json")) as handle:
            handle.write((json.dumps(summary, indent=2) + "\n").encode("utf-8"))


def write_tables(rows: list[dict], out: str) -> tuple[int, int]:
    """Writes ``out/index.csv`` (the folder mode's columns) and ``out/failures.csv`` (file, reason), sorted
    by file, whatever the number of workers; returns the numbers of rows of each."""
    rows = sorted(rows, key=lambda row: row["file"])
    failures = [{"file": row["file"], "reason": row["reason"]} for row in rows if row["reason"]]
    tables = (("index.csv", folder.INDEX_COLUMNS, rows), ("failures.csv", FAILURE_COLUMNS, failures))
    for name, columns, table in tables:
        with FileSystems.create(FileSystems.join(out, name)) as channel:
            text = io.TextIOWrapper(channel, encoding="utf-8", newline="")
            writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(table)
            text.flush()
            text.detach()  # the channel is closed by its own context
    return len(rows), len(failures)
