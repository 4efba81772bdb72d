"""pipelines.compare_rnn: the tiny comparison writes its table and plot; GRU has ~0.75x LSTM's recurrent weights."""

from __future__ import annotations

import pytest

from pipelines import compare_rnn


@pytest.mark.slow
def test_tiny_comparison_writes_table_csv_and_plot(tmp_path):
    rows = compare_rnn.compare(compare_rnn.PRESETS["tiny"], str(tmp_path / "runs"))
    config = compare_rnn.PRESETS["tiny"]
    assert {(row["cell"], row["distance"]) for row in rows} == {
        (cell, distance) for cell in config.cells for distance in config.distances
    }
    assert all(0.0 <= row["test_accuracy"] <= 1.0 and row["seconds_per_epoch"] > 0 for row in rows)
    recurrent = {row["cell"]: row["recurrent_parameters"] for row in rows}
    assert 0.7 < recurrent["gru"] / recurrent["lstm"] < 0.8
    (run_dir,) = (tmp_path / "runs" / "compare_rnn").iterdir()
    assert {"results.csv", "results.md", "accuracy_vs_distance.png", "config.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert "GRU/LSTM recurrent parameters" in (run_dir / "results.md").read_text()
