"""Command-line plumbing shared by the pipeline entry modules.

Only entry modules call this (STYLE: only they read argv). Every field of the pipeline's config
becomes a ``--flag``; ``--set key=value`` overrides any field too. Bad input ends in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import typing
from collections.abc import Callable, Sequence

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common.errors import UserError  # noqa: E402


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")


def build_parser(prog: str, description: str, config_class: type, presets: Sequence[str]) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("--preset", default="default", choices=list(presets), help="named config preset")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field (repeatable), e.g. --set filters=16,32",
    )
    parser.add_argument(
        "--strategy",
        default="default",
        choices=["default", "mirrored", "multi_worker"],
        help="tf.distribute strategy; mirrored uses all GPUs, else all logical CPUs; multi_worker: one worker "
        "of a job described by the TF_CONFIG environment variable (make train-* WORKERS=N starts N locally)",
    )
    parser.add_argument(
        "--backup-dir",
        default="",
        help="where the resumable backup of an interrupted run is kept (multi_worker: a directory every worker "
        "sees; default: inside --runs-dir)",
    )
    parser.add_argument(
        "--cluster-timeout",
        type=float,
        default=180.0,
        help="multi_worker: seconds to wait for the other workers, or for a step, before giving up with an error",
    )
    parser.add_argument(
        "--logical-cpus",
        type=int,
        default=0,
        help="split the CPU into N logical devices (for trying --strategy mirrored without GPUs)",
    )
    parser.add_argument("--runs-dir", default="runs", help="where run folders are written")
    parser.add_argument("--export-dir", default="export", help="TF Serving model base directory")
    parser.add_argument("--no-export", action="store_true", help="train and evaluate only")
    fields = parser.add_argument_group("config fields (each overrides the preset)")
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        doc = field.metadata.get("help", "")
        type_name = getattr(hints[field.name], "__name__", str(hints[field.name]).replace("typing.", ""))
        fields.add_argument(
            "--" + field.name.replace("_", "-"),
            dest="field__" + field.name,
            default=None,
            metavar=type_name.upper(),
            help=f"{doc} (default: {field.default!r})" if doc else f"default: {field.default!r}",
        )
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, str]:
    """Collects the config overrides given as ``--field`` flags and ``--set key=value``."""
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise UserError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value.strip()
    for name, value in vars(args).items():
        if name.startswith("field__") and value is not None:
            overrides[name[len("field__") :]] = value
    return overrides


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) kept off stderr.

    TensorFlow's native logging writes straight to file descriptor 2 before Python can filter it,
    so a one-line error would drown in them. Python-level import errors still surface. On a machine
    without an NVIDIA driver the devices are also listed here, as the CUDA probe then logs an
    error line ("failed call to cuInit") at the first use of TensorFlow; with a driver it may
    have something to say, so it is left to speak.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow

            if not os.path.exists("/proc/driver/nvidia"):
                tensorflow.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Calls ``main`` and turns user errors into one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        return main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def train_main(
    prog: str,
    description: str,
    config_class: type,
    presets: dict,
    train_and_export: Callable[..., int],
    argv: Sequence[str] | None = None,
) -> int:
    """The ``main`` of a training entry module: parse, resolve the config, pick the strategy, train."""
    from common import config as config_lib

    parser = build_parser(prog, description, config_class, presets)
    args = parser.parse_args(argv)
    config = config_lib.resolve(presets, args.preset, overrides_from(args))  # config errors before TF starts
    strategy, runs_dir, export_model = start_training(args)
    return train_and_export(config, runs_dir, args.export_dir, export_model=export_model, strategy=strategy)


def start_training(args: argparse.Namespace) -> tuple[typing.Any, str, bool]:
    """Starts TensorFlow and the strategy; returns (strategy, runs folder, whether to export).

    A non-chief worker of a multi-worker job gets a temporary runs folder, removed when it exits,
    and does not export: only the chief writes the run folder, the plots and the export.
    """
    runs_dir, export_model = args.runs_dir, not args.no_export
    if args.strategy == "multi_worker":
        from pipelines.training import cluster

        cluster.parse_tf_config(os.environ.get("TF_CONFIG"))  # a malformed TF_CONFIG fails before TF starts
        if args.cluster_timeout <= 0:
            raise UserError(f"--cluster-timeout must be positive, got {args.cluster_timeout}")
        # TensorFlow's C++ logs a peer's departure as errors; the trainer says what happened in one line.
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import_tensorflow_quietly()
    from pipelines.training import cluster, distribution, trainer

    if args.backup_dir or args.strategy == "multi_worker":
        trainer.BACKUP_ROOT = args.backup_dir or os.path.join(args.runs_dir, ".backup")
    strategy = distribution.make_strategy(args.strategy, args.logical_cpus, args.cluster_timeout)
    if not cluster.is_chief():
        import atexit
        import shutil
        import tempfile

        runs_dir, export_model = tempfile.mkdtemp(prefix="worker-runs-"), False
        atexit.register(shutil.rmtree, runs_dir, True)
        logging.info("%s: the chief writes the run folder and the export", cluster.role().name)
    return strategy, runs_dir, export_model
