"""The run folder: ``runs/<pipeline>/<timestamp>/`` and what a training run writes into it and returns.

A run writes config.json (the resolved config), splits.csv (folders: which file went where),
history.csv, TensorBoard logs, the best weights, metrics.json, training_curves.png and
confusion_matrix.png; ``train_and_export`` returns a :class:`TrainResult`. Only the chief of a
multi-worker job writes (the others get a temporary folder).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import logging
import pathlib
from typing import Any

import numpy as np

from common import config as config_lib
from pipelines.training import cluster, plots
from pipelines.training.workspace import Workspace


@dataclasses.dataclass
class TrainResult:
    """What a training run returns: its folder, its metrics, the export (None: not exported), and what the
    command prints: one JSON line for scripts (``summary``) and one sentence for people."""

    run_dir: pathlib.Path
    metrics: dict[str, Any]  # what metrics.json holds; "export" (its path and check) when exported
    summary: dict[str, Any]
    sentence: str

    @property
    def export_dir(self) -> pathlib.Path | None:
        path = self.metrics.get("export", {}).get("path")
        return pathlib.Path(path) if path else None


def make_run_dir(runs_root: str | pathlib.Path, pipeline: str) -> pathlib.Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path(runs_root) / pipeline
    run_dir = base / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = base / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


@dataclasses.dataclass(frozen=True)
class Run:
    """A training run in progress: its folder, and where the backups of its phases go."""

    directory: pathlib.Path
    pipeline: str
    runs_root: pathlib.Path
    backup_root: pathlib.Path | None = None  # --backup-dir; None: inside the runs root

    def backup_dir(self, config: Any, phase: str = "") -> pathlib.Path:
        """Where an interrupted phase's backup lives, keyed by its settings: ``runs/<pipeline>/.backup-<fingerprint>/``,
        or ``<--backup-dir>/<pipeline>-<fingerprint>/`` (multi-worker jobs: a directory every worker sees)."""
        name = f"{self.pipeline}-{phase}" if phase else self.pipeline
        fingerprint = config_lib.fingerprint(config)
        if self.backup_root:
            return pathlib.Path(self.backup_root) / f"{name}-{fingerprint}"
        return self.runs_root / name / f".backup-{fingerprint}"


def create(workspace: Workspace, pipeline: str, config: Any, data: Any = None) -> Run:
    """Makes the run folder in the workspace's runs root and saves the resolved config; for labelled
    ``data`` (a ``pipelines.datasets.labeled_data.LabeledData``) also the split assignment, and logs the data."""
    directory = make_run_dir(workspace.runs_dir, pipeline)
    config_lib.save(config, directory / "config.json")
    if data is not None:
        if data.split_rows:
            save_split_assignment(data.split_rows, directory / "splits.csv")
        logging.info("data: %s, classes %s, sizes %s", data.description, data.class_names, data.sizes)
    return Run(directory, pipeline, workspace.runs_dir, workspace.backup_root)


def save_split_assignment(rows: list[dict], path: pathlib.Path) -> None:
    """Writes which file went to which split (and its group) as CSV, for a look or a rerun elsewhere."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_run_outputs(
    run_dir: pathlib.Path,
    config: Any,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
    class_names: list[str],
    title: str,
) -> None:
    """Writes metrics.json, training_curves.png and confusion_matrix.png into the run folder.

    A non-chief worker of a multi-worker job writes nothing: its run folder is a temporary one.
    """
    if not cluster.is_chief():
        return
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plots.training_curves(history, run_dir / "training_curves.png", title=title)
    test = metrics.get("test", metrics)
    if "confusion_matrix" in test:
        plots.confusion_matrix(
            np.asarray(test["confusion_matrix"]),
            class_names,
            run_dir / "confusion_matrix.png",
            title=f"{title}: test accuracy {test['accuracy']:.3f}",
        )
    logging.info("run folder: %s", run_dir)


def classifier_result(run_dir: pathlib.Path, metrics: dict[str, Any]) -> TrainResult:
    """The result of a classifier run with a test accuracy and a baseline (image, text)."""
    export_path = metrics.get("export", {}).get("path")
    summary = {
        "test_accuracy": round(metrics["test"]["accuracy"], 4),
        "baseline_accuracy": round(metrics["baseline"]["accuracy"], 4),
        "fit_seconds": metrics.get("fit_seconds"),
        "run_dir": str(run_dir),
        "export": export_path,
    }
    sentence = (
        f"test accuracy {metrics['test']['accuracy']:.4f} (baseline {metrics['baseline']['name']}: "
        f"{metrics['baseline']['accuracy']:.4f}); run folder {run_dir}"
        + (f"; exported to {export_path}" if export_path else "")
    )
    return TrainResult(run_dir, metrics, summary, sentence)
