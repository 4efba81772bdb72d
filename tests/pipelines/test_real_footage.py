"""Real footage (slow, needs ../shared/data): trained on four actors, right about the actor it never saw."""

from __future__ import annotations

import csv
import json

import pytest

from tests.helpers import run_module


@pytest.mark.slow
def test_weizmann_actions_split_by_actor_beat_chance_on_an_unseen_actor(shared_data, tmp_path):
    dataset = shared_data / "actions" / "weizmann4"
    if not dataset.is_dir():
        pytest.skip(f"{dataset} not found")
    result = run_module(
        "pipelines.video", "--dataset", str(dataset), "--group-pattern", r"^(actor\d+)_", "--baseline-epochs", "0",
        "--no-export", "--runs-dir", str(tmp_path / "runs"), timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    with open(f"{summary['run_dir']}/splits.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    actors = {split: {row["group"] for row in rows if row["split"] == split} for split in ("train", "test")}
    assert len(actors["test"]) == 1 and actors["test"].isdisjoint(actors["train"])
    # Four classes: chance is 0.25. Measured over six folds: 1.00 per video (README).
    assert summary["test_video_accuracy"] >= 0.75
    assert summary["test_whole_video_frame_accuracy"] >= 0.7
