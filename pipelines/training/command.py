"""The command of every training entry module: parse, check the config, start TensorFlow and the strategy,
train, print the result.

    python -m pipelines.<image|text|textgen|video> [--preset tiny] [--epochs 3] [--set key=value]
        [--strategy default|mirrored|multi_worker] [--runs-dir runs] [--export-dir export] [--no-export]

The config is resolved and validated before TensorFlow starts, so a bad setting or dataset path fails
in a fraction of a second. A non-chief worker of a multi-worker job trains into a temporary runs
folder, removed when it exits, and does not export: only the chief writes the run folder and the export.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import shutil
import tempfile
import typing
from collections.abc import Callable, Sequence

from common import cli, quiet
from common import config as config_lib
from common.errors import UserError
from pipelines.training import cluster  # reads TF_CONFIG without TensorFlow
from pipelines.training.workspace import Workspace


def training_parser(prog: str, description: str, config_class: type, presets: Sequence[str]) -> cli.ArgumentParser:
    """The config's flags (``common.cli.config_parser``) plus where and how to train."""
    parser = cli.config_parser(prog, description, config_class, presets)
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
    return parser


def train_main(
    prog: str,
    description: str,
    config_class: type,
    presets: dict,
    train_and_export: Callable[..., typing.Any],
    argv: Sequence[str] | None = None,
) -> int:
    """The ``main`` of a training entry module; prints the result's JSON line and its sentence."""
    args = training_parser(prog, description, config_class, presets).parse_args(argv)
    config = config_lib.resolve(presets, args.preset, cli.overrides_from(args))  # config errors before TF starts
    result = train_and_export(config, start_training(args))
    print(json.dumps(result.summary, ensure_ascii=False))
    print(result.sentence)
    return 0


def start_training(args: argparse.Namespace) -> Workspace:
    """Starts TensorFlow and the strategy; returns the workspace ``train_and_export`` writes to."""
    runs_dir, export_dir = args.runs_dir, None if args.no_export else args.export_dir
    if args.strategy == "multi_worker":
        cluster.parse_tf_config(os.environ.get("TF_CONFIG"))  # a malformed TF_CONFIG fails before TF starts
        if args.cluster_timeout <= 0:
            raise UserError(f"--cluster-timeout must be positive, got {args.cluster_timeout}")
        # TensorFlow's C++ logs a peer's departure as errors; the trainer says what happened in one line.
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    quiet.import_tensorflow()
    # Deferred: TensorFlow loads only once the config has been checked.
    from pipelines.training import distribution

    backup_root = args.backup_dir or None
    if args.strategy == "multi_worker" and not backup_root:  # every worker must see it: not a temporary folder
        backup_root = os.path.join(args.runs_dir, ".backup")
    strategy = distribution.make_strategy(args.strategy, args.logical_cpus, args.cluster_timeout)
    if not cluster.is_chief():
        runs_dir, export_dir = tempfile.mkdtemp(prefix="worker-runs-"), None
        atexit.register(shutil.rmtree, runs_dir, True)
        logging.info("%s: the chief writes the run folder and the export", cluster.role().name)
    return Workspace(runs_dir, export_dir, backup_root, strategy)
