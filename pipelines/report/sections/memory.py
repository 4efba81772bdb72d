"""Section 3: memory over distance: SimpleRNN, LSTM and GRU through pipelines.compare_rnn."""

from __future__ import annotations

import csv
import dataclasses
import pathlib
import re
import shutil
import time

import numpy as np

from pipelines import compare_rnn
from pipelines.configs import compare_rnn as compare_configs
from pipelines.datasets.embedded import chinese_reference
from pipelines.report.content import Figure, Section, Table, new_section
from pipelines.report.sections import common


def memory(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    section = new_section(3)
    start = time.perf_counter()
    compare_config = dataclasses.replace(
        compare_configs.PRESETS[config.pipeline_preset],
        distances=tuple(config.compare_distances),
        cells=tuple(config.compare_cells),
        epochs=config.compare_epochs,
        max_train_examples=config.compare_train_examples,
        seed=config.seed,
    )
    run_dir, _ = compare_rnn.compare(compare_config, runs_dir)
    seconds = time.perf_counter() - start
    section.runs.append(run_dir)
    with open(run_dir / "results.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cells = list(dict.fromkeys(row["cell"] for row in rows))
    distances = sorted({int(row["distance"]) for row in rows})
    accuracy = {(row["cell"], int(row["distance"])): float(row["test_accuracy"]) for row in rows}
    first = {cell: next(row for row in rows if row["cell"] == cell) for cell in cells}
    section.blocks.append(
        Table(
            ["cell", "parameters", "recurrent parameters", "seconds/epoch (mean over distances)"]
            + [f"acc @ d={d}" for d in distances],
            [
                [
                    cell,
                    f"{int(first[cell]['parameters']):,}",
                    f"{int(first[cell]['recurrent_parameters']):,}",
                    f"{np.mean([float(r['seconds_per_epoch']) for r in rows if r['cell'] == cell]):.1f}",
                ]
                + [common.percent(accuracy[(cell, d)]) for d in distances]
                for cell in cells
            ],
        )
    )
    results_md = (run_dir / "results.md").read_text(encoding="utf-8")
    notes = [line for line in results_md.splitlines() if line and not line.startswith("|")]
    section.blocks.extend(notes)
    what = (
        f"compare-rnn ({common.describe(compare_config, ('units', 'embedding_dim', 'epochs', 'max_train_examples'))})"
    )
    shutil.copyfile(run_dir / "accuracy_vs_distance.png", figures_dir / "3_accuracy_vs_distance.png")
    section.figures.append(
        Figure(
            figures_dir / "3_accuracy_vs_distance.png",
            f"Test accuracy against distance (the plot written by pipelines.compare_rnn in run {run_dir.name}). "
            f"{what}; seed {config.seed}; run time {seconds:.0f} s.",
        )
    )
    longest = distances[-1]
    gated = [c for c in ("lstm", "gru") if c in cells]
    num_classes = int(round(1 / float(_chance_from(results_md)))) if _chance_from(results_md) else 0
    best_short = max(accuracy[(c, distances[0])] for c in cells)
    margin = common.margin(_compare_test_size())
    if num_classes and common.inconclusive(
        section, f"the best cell at distance {distances[0]}", best_short, 1 / num_classes
    ):
        pass
    elif "simple_rnn" in cells and gated:
        simple = accuracy[("simple_rnn", longest)]
        best_gated = max(accuracy[(c, longest)] for c in gated)
        worst_gated = min(accuracy[(c, longest)] for c in gated)
        detail = (
            f"at distance {longest}: SimpleRNN {simple:.3f}, "
            + ", ".join(f"{c.upper()} {accuracy[(c, longest)]:.3f}" for c in gated)
            + "."
        )
        if worst_gated > simple + margin:
            section.verdict, section.verdict_reason = "supported", detail
        elif best_gated > simple + margin:
            section.verdict, section.verdict_reason = (
                "partly supported",
                "only one gated cell beats SimpleRNN " + detail,
            )
        else:
            section.verdict = "not supported"
            section.verdict_reason = f"with this budget the gated cells do not keep more memory than SimpleRNN {detail}"
    return section


def _chance_from(results_md: str) -> str:
    """The chance level compare_rnn writes into results.md ("chance = 0.25")."""

    match = re.search(r"chance = ([0-9]+(?:\.[0-9]+)?)", results_md)
    return match.group(1) if match else ""


def _compare_test_size() -> int:
    return chinese_reference.SPLIT_SIZES["test"]
