"""Classify every video of an archive on Apache Beam: ``make classify-library INPUT='glob' OUT=dir``.

    python -m serving.classify.library 'GLOB' --out DIR [--model video|image] [--server URL]
        [--timeline] [--export-dir export] [--batch-size 32] [--smooth N] [--encoding png|jpeg|raw]
        [--image-size N] [--threads 1] [--decoder-threads 0] [--decoder pyav|opencv]
        [BEAM OPTIONS: --direct_num_workers=2 | --runner DataflowRunner --project ... | ...]

Every video file (by extension, as classify-video's folder mode) that ``GLOB`` matches, on any
filesystem Beam reads (local paths; gs://, s3://, hdfs:// with Beam's extras), is one element of a
Beam job (``serving.classify.library_job``); each is decoded and classified in order, its recurrent
state carried, by classify-video's own code (``serving.classify.classify_video_fn``). Outputs, through
Beam's ``FileSystems``:

- ``OUT/<relative path>/frames.csv`` and ``summary.json`` as classify-video writes them
  (``timeline.png`` too with ``--timeline``), where the relative path is the video's path after the
  glob's fixed prefix (up to the last ``/`` before its first wildcard): ``INPUT='videos/**'`` puts
  ``videos/day 2/a.mp4`` in ``OUT/day 2/a.mp4/``;
- ``OUT/index.csv``: the folder mode's columns (file, frames, fps, main_label, segments, error), one
  row per video, sorted by file, whatever the number of workers;
- ``OUT/failures.csv`` (file, reason): the videos that could not be read (no outputs) and those that
  broke off part-way (outputs for the frames before the break); the job still succeeds.

A rerun with the same OUT skips the videos whose outputs are complete (summary.json, written last,
parses and names the same model), so an interrupted or preempted job is resumed, not redone; a
different model needs a different OUT. The model is loaded once per worker process (the version
found here, even if a newer one is published meanwhile); with ``--server`` the workers call TF
Serving instead. At the end the job's Beam metrics are printed: videos, frames, failures, seconds of
video, and frames/s from the first video's start to the last one's outputs (start-up left out).

Options after the glob that are not this command's are Beam's pipeline options. Without a
``--runner`` the job runs here on Beam's FnApiRunner (``--direct_num_workers`` worker processes, one
by default; ``make classify-library`` passes 2). Bad input is one line on stderr and exit 2, before
the job starts: a glob that matches no video, an OUT that cannot be written, a missing or unreadable
model, an unreachable server, an unknown or malformed Beam option.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from google.protobuf import empty_pb2, message

from common import cli  # its common.quiet sets the log levels and filters before Beam and TensorFlow load
from common.errors import UserError
from serving.classify import frame_classifiers, runner
from serving.classify import video as classify_video

# classify-video's options that the library job passes on to the runner, with classify-video's defaults.
RUNNER_OPTIONS = (
    "model",
    "server",
    "export_dir",
    "batch_size",
    "smooth",
    "encoding",
    "image_size",
    "threads",
    "decoder_threads",
    "decoder",
)


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m serving.classify.library",
        description="Label every frame of every video a glob matches, as an Apache Beam job.",
        epilog="Beam's pipeline options follow the glob: --direct_num_workers=2 (here), or --runner "
        "DataflowRunner --project P --region R --temp_location gs://B/tmp ... (README).",
        allow_abbrev=False,  # a Beam option must never be taken for an abbreviation of one of these
    )
    parser.add_argument("input", help="a glob of video files on any Beam filesystem, e.g. 'videos/**'")
    parser.add_argument("--out", required=True, help="output folder on any Beam filesystem")
    parser.add_argument("--timeline", action="store_true", help="also write timeline.png per video")
    defaults = classify_video.build_parser().parse_args(["-"])
    for action in classify_video.build_parser()._actions:
        if action.dest in RUNNER_OPTIONS:
            parser.add_argument(
                *action.option_strings,
                dest=action.dest,
                type=action.type,
                choices=action.choices,
                default=getattr(defaults, action.dest),
                help=action.help,
            )
    return parser


def check_export(args: argparse.Namespace) -> int:
    """The version the workers will load; a UserError when the export is missing or unreadable.

    Checked here without TensorFlow (it would add seconds to every start): the version folder; a
    saved_model.pb that can be read and parsed as a protocol buffer; every file under the folder
    readable; and, when there are variables, every shard that their names announce.
    """
    version_dir = frame_classifiers.find_version_dir(args.model, args.export_dir)
    graph = version_dir / "saved_model.pb"
    try:
        data = graph.read_bytes()
        empty_pb2.Empty.FromString(data)  # any protocol buffer parses as Empty (its fields kept as unknown)
        for path in version_dir.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    handle.read(1)
    except OSError as error:
        raise UserError(f"cannot read {error.filename or graph}: {error.strerror or error}") from None
    except message.DecodeError:
        raise UserError(f"{graph} is not a SavedModel (it does not parse); export the model again") from None
    if not data:
        raise UserError(f"{graph} is empty; export the model again")
    variables = version_dir / "variables"
    shards = sorted(variables.glob("variables.data-*-of-*"))
    if (variables / "variables.index").exists():
        expected = int(shards[0].name.rsplit("-of-", 1)[1]) if shards else 1
        if len(shards) != expected:
            raise UserError(f"{variables} holds {len(shards)} of its {expected} data shard(s); export the model again")
    return int(version_dir.name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    runner_args = classify_video.build_parser().parse_args([args.input])
    for name in RUNNER_OPTIONS:
        setattr(runner_args, name, getattr(args, name))
    runner.check_args(runner_args)
    version = None
    if args.server:
        classifier = runner.make_classifier(runner_args)  # reachable, and the model's input size known
        runner_args.image_size = classifier.image_size
        model = f"{classifier.model_name} v{classifier.version} at {args.server}"
    else:
        version = check_export(runner_args)
        model = f"{args.model} v{version} from {args.export_dir}"
    # Beam's INFO lines are its set-up (optional extras missing, servers started, type hints converted);
    # a remote runner's (the job's URL, its state) are let through again by library_job.run.
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    # deferred: Beam takes a second to import; usage errors and a missing model come back before it
    from serving.classify import classify_video_fn, library_job

    options = library_job.parse_options(beam_args)
    files, videos = library_job.count_matches(args.input)
    library_job.check_writable(args.out)
    where = library_job.describe_runner(options)
    pipeline = library_job.make_pipeline(options)
    print(f"{args.input}: {videos} video(s) of {files} matching file(s); {model}; running {where}", flush=True)
    prefix = library_job.fixed_prefix(args.input)
    classify = classify_video_fn.ClassifyVideoFn(runner_args, args.out, prefix, version, args.timeline)
    try:
        metrics = library_job.run(pipeline, args.input, args.out, classify)
    except library_job.JobFailed as error:
        print(f"error: the Beam job failed: {error}", file=sys.stderr)
        return 1
    print(
        f"classified {metrics.videos} video(s): {metrics.frames:,} frames, {metrics.video_seconds:,.1f} s of video, "
        f"{metrics.frames_per_second:,.1f} frames/s over {metrics.classify_seconds:.1f} s"
    )
    print(f"skipped {metrics.skipped} already complete; {metrics.failures} failure(s)")
    print(f"outputs: {args.out} (index.csv, failures.csv, one folder per video)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
