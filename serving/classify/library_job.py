"""The library job's pipeline, its options and where it runs (``serving.classify.library`` is its command).

    MatchFiles(INPUT) -> the video files (by extension) -> Reshuffle -> ClassifyVideoFn -> all rows
        -> OUT/index.csv, OUT/failures.csv

``Reshuffle`` spreads the matched paths over the workers (without it the whole job would be fused into
the one bundle that matched them). The rows are gathered once at the end and sorted, so index.csv is
the same whatever the number of workers.

Where it runs: Beam's own ``--runner`` options (Dataflow, Flink, Spark, ...) go to Beam as they are.
Without one, or with ``--runner DirectRunner``, it runs on Beam's Python FnApiRunner here, with
``--direct_num_workers`` worker processes (``--direct_running_mode multi_processing`` unless told
otherwise): not through Beam's DirectRunner itself, which may pick the Prism runner and download its
binary at run time. The worker processes are Beam's SDK harness started through
``serving.classify.library_worker`` (the same harness, with the project's log set-up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import pathlib
import re
import shlex
import sys

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options import pipeline_options
from apache_beam.portability.api import beam_provision_api_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.portability.portable_runner import JobServiceHandle
from apache_beam.transforms import environments

from common import formats
from common.errors import UserError
from serving.classify.classify_video_fn import NAMESPACE, PROJECT_ROOT, ClassifyVideoFn, one_line, write_tables

LOCAL_RUNNERS = ("directrunner", "direct")
WILDCARDS = "*?["
WORKER_COMMAND = f"{shlex.quote(sys.executable)} -m serving.classify.library_worker"


def fixed_prefix(pattern: str) -> str:
    """The glob up to the last ``/`` before its first wildcard (all of it when it names a folder with a ``/``).

    A video's outputs go to ``OUT/<its path after this prefix>/``: ``videos/*`` and ``videos/**``
    give ``OUT/clip.mp4/`` and ``OUT/day 2/clip.mp4/``; ``gs://bucket/archive/**/*.mp4`` gives
    ``OUT/<path under archive/>/``.
    """
    first = min((pattern.find(char) for char in WILDCARDS if char in pattern), default=len(pattern))
    return pattern[: pattern.rfind("/", 0, first) + 1]


def is_video(path: str) -> bool:
    """By extension, as the folder mode (``serving.classify.folder.find_videos``): hidden files left out."""
    name = pathlib.PurePosixPath(path).name
    return not name.startswith(".") and pathlib.PurePosixPath(name).suffix.lower() in formats.VIDEO_EXTENSIONS


def count_matches(pattern: str) -> tuple[int, int]:
    """(files, videos) that ``pattern`` matches; UserError when it matches none, or no video."""
    try:
        paths = [metadata.path for metadata in FileSystems.match([pattern])[0].metadata_list]
    except (ValueError, OSError, BeamIOError) as error:
        raise UserError(f"cannot list {pattern}: {one_line(error)}") from None
    videos = sum(is_video(path) for path in paths)
    if not paths:
        raise UserError(f"no file matches {pattern} (quote the glob so that the shell leaves it to Beam)")
    if not videos:
        suffixes = ", ".join(sorted(formats.VIDEO_EXTENSIONS))
        raise UserError(f"{pattern} matches {len(paths)} file(s) but no video (looked for {suffixes})")
    return len(paths), videos


def check_writable(out: str) -> None:
    """Writes and removes ``OUT/.write-check``: a one-line error now rather than a failed job later."""
    probe = FileSystems.join(out, ".write-check")
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"ok\n")
        FileSystems.delete([probe])
    except (ValueError, OSError, BeamIOError) as error:
        raise UserError(f"cannot write to {out}: {one_line(error)}") from None


class _Discarded(logging.Filter):
    """On Beam's options logger while the options are parsed: keeps its "Discarding unparseable args"
    warnings (unknown options), for a one-line error instead; its other records pass."""

    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Discarding"):
            self.messages.append(record.getMessage())
            return False
        return True


def parse_options(beam_args: list[str]) -> pipeline_options.PipelineOptions:
    """Beam's pipeline options from ``beam_args``; an unknown option or a bad value is a UserError with
    Beam's own message, on one line."""
    options = pipeline_options.PipelineOptions(beam_args)
    logger = logging.getLogger(pipeline_options.__name__)
    discarded, usage = _Discarded(), io.StringIO()
    logger.addFilter(discarded)
    try:
        with contextlib.redirect_stderr(usage):
            options.get_all_options()
    except SystemExit:  # argparse's error (a bad value): its last line says what is wrong
        raise UserError(f"Beam options: {usage.getvalue().strip().splitlines()[-1]}") from None
    finally:
        logger.removeFilter(discarded)
    if discarded.messages:
        raise UserError(f"Beam options: {discarded.messages[0]} (not a Beam pipeline option)")
    if not any(flag.startswith("--direct_running_mode") for flag in beam_args):
        # This job's default here: worker processes (Beam's own is the launcher's process).
        options.view_as(pipeline_options.DirectOptions).direct_running_mode = "multi_processing"
    runner = options.view_as(pipeline_options.StandardOptions).runner
    if runner and runner.lower() not in LOCAL_RUNNERS:
        try:
            beam.runners.create_runner(runner)
        except (ValueError, ImportError) as error:
            raise UserError(f"Beam options: {one_line(error)}") from None
    return options


def is_local(options: pipeline_options.PipelineOptions) -> bool:
    """Whether the job runs here (no ``--runner``, or ``DirectRunner``) rather than on a runner's cluster."""
    runner = options.view_as(pipeline_options.StandardOptions).runner
    return runner is None or runner.lower() in LOCAL_RUNNERS


def local_runner(options: pipeline_options.PipelineOptions) -> fn_runner.FnApiRunner:
    """Beam's FnApiRunner with ``--direct_num_workers`` worker processes (``serving.classify.library_worker``).

    Other ``--direct_running_mode`` values (``in_memory``: the launcher's own process, ``multi_threading``)
    are left to the FnApiRunner as Beam's DirectRunner would.
    """
    # The workers get only the options that differ from Beam's defaults: the defaults reach them as
    # defaults, and Beam's round trip of negative flags ("--pipeline_type_check") warns in none of them.
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options(drop_default=True))
    provision = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    direct = options.view_as(pipeline_options.DirectOptions)
    if direct.direct_running_mode != "multi_processing":
        return fn_runner.FnApiRunner(provision_info=provision)
    # The FnApiRunner replaces its environment by Beam's worker command for "multi_processing" and
    # warns about "in_memory" with several workers; with no mode named it keeps the one given here.
    direct.direct_running_mode = None
    workers = environments.SubprocessSDKEnvironment.from_command_string(WORKER_COMMAND)
    # The worker processes import this project's packages, wherever the command was started from.
    paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    if str(PROJECT_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *paths])
    # The workers print their own log lines; the launcher would print each once more, relayed.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.CRITICAL)
    return fn_runner.FnApiRunner(default_environment=workers, provision_info=provision)


def describe_runner(options: pipeline_options.PipelineOptions) -> str:
    """Where the job runs, for its first line."""
    if not is_local(options):
        return options.view_as(pipeline_options.StandardOptions).runner
    direct = options.view_as(pipeline_options.DirectOptions)
    workers = direct.direct_num_workers or os.cpu_count()  # 0: one per core, as Beam counts them
    mode = direct.direct_running_mode
    if mode == "in_memory":
        return "here, in this process (Beam's FnApiRunner)"
    kind = "thread(s)" if mode == "multi_threading" else "worker process(es)"
    return f"here, {workers} {kind} (Beam's FnApiRunner)"


@dataclasses.dataclass
class JobMetrics:
    """What the job counted (Beam metrics): videos classified, frames, failures, seconds of video, ..."""

    videos: int = 0
    skipped: int = 0
    failures: int = 0
    frames: int = 0
    video_seconds: float = 0.0
    classify_seconds: float = 0.0  # from the first video's start to the last one's outputs, over all workers

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.classify_seconds if self.classify_seconds > 0 else 0.0


def read_metrics(result) -> JobMetrics:
    """The job's counters and distributions (committed where the runner has them, else attempted)."""
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    totals: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + (value or 0)
    bounds = {}
    for distribution in query["distributions"]:
        value = distribution.committed if distribution.committed is not None else distribution.attempted
        if value is not None and value.count:
            bounds[distribution.key.metric.name] = value
    span = 0.0
    if "started_ms" in bounds and "finished_ms" in bounds:
        span = (bounds["finished_ms"].max - bounds["started_ms"].min) / 1000
    return JobMetrics(
        videos=totals.get("videos", 0),
        skipped=totals.get("skipped", 0),
        failures=totals.get("failures", 0),
        frames=totals.get("frames", 0),
        video_seconds=totals.get("video_ms", 0) / 1000,
        classify_seconds=span,
    )


def _video_paths(metadata) -> list[str]:
    return [metadata.path] if is_video(metadata.path) else []


class JobFailed(RuntimeError):
    """The job did not finish: a runner that could not start, or a worker error (the worker has logged it)."""


def make_pipeline(options: pipeline_options.PipelineOptions) -> beam.Pipeline:
    """The pipeline on its runner; Beam's validation of the options (a remote runner's missing project,
    region, temp_location, ...) is a UserError with Beam's message on one line."""
    try:
        return beam.Pipeline(runner=local_runner(options) if is_local(options) else None, options=options)
    except ValueError as error:
        raise UserError("Beam options: " + " ".join(str(error).split())) from None


def run(pipeline: beam.Pipeline, pattern: str, out: str, classify: ClassifyVideoFn) -> JobMetrics:
    """Runs the job to its end; returns its metrics.

    Raises:
        UserError: a worker could not load the model (it logged why).
        JobFailed: anything else that stopped the job, with its last line.
    """
    rows = (
        pipeline
        | "Match" >> fileio.MatchFiles(pattern)
        | "Videos" >> beam.FlatMap(_video_paths)
        | "Spread" >> beam.Reshuffle()
        | "Classify" >> beam.ParDo(classify)
    )
    _ = rows | "Gather" >> beam.combiners.ToList() | "Index" >> beam.Map(write_tables, out)
    if not is_local(pipeline.options):  # the job's URL and its state changes (the command keeps Beam's INFO off)
        logging.getLogger("apache_beam.runners").setLevel(logging.INFO)
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as error:  # noqa: BLE001 - runners raise anything; the workers have logged the details
        text = str(error)
        match = re.search(r"UserError: (.+)", text)
        if match:
            raise UserError(match.group(1).strip()) from None
        lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(error).__name__]
        raise JobFailed(lines[-1]) from None
    return read_metrics(result)
