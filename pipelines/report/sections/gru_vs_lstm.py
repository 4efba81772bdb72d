"""Section 4: GRU against LSTM at the same width: parameters and interleaved step times."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from common import config as config_lib
from models import text_rnn, video_cnn_rnn
from pipelines.configs import text as text_configs
from pipelines.configs import video as video_configs
from pipelines.datasets import text_sources, vocabulary
from pipelines.datasets.embedded import shape_motion
from pipelines.report import figures
from pipelines.report.content import Figure, Section, Table, new_section
from pipelines.report.sections import common
from pipelines.training import run_folder


def _time_steps(models: dict, inputs, targets, steps: int) -> dict[str, dict[str, float]]:
    """Median seconds per ``train_on_batch`` and ``predict_on_batch``, the models interleaved step by
    step so that changes in machine load hit both alike."""

    for model in models.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)  # before the first step, which then traces once
        for _ in range(2):  # trace and warm up
            model.train_on_batch(inputs, targets)
            model.predict_on_batch(inputs)
    times = {name: {"train": [], "predict": []} for name in models}
    for _ in range(steps):
        for name, model in models.items():
            begin = time.perf_counter()
            model.train_on_batch(inputs, targets)
            times[name]["train"].append(time.perf_counter() - begin)
            begin = time.perf_counter()
            model.predict_on_batch(inputs)
            times[name]["predict"].append(time.perf_counter() - begin)
    return {name: {mode: float(np.median(values)) for mode, values in modes.items()} for name, modes in times.items()}


def _recurrent_parameters(model, names: tuple[str, ...]) -> int:
    return sum(int(layer.count_params()) for layer in model.layers if layer.name.startswith(names))


def gru_vs_lstm(config, runs_dir: pathlib.Path, figures_dir: pathlib.Path) -> Section:
    section = new_section(4)
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    batch = config.timing_batch_size
    rows = []

    # Text: the text pipeline's model at its preset width, on fixed embedded sentences.
    text_base = config_lib.replace(
        text_configs.PRESETS[config.pipeline_preset], tokenize="character", wide=False, seed=config.seed
    )
    data = text_sources.load(
        dataclasses.replace(text_base.data, dataset="", max_train_examples=max(batch, 256)), seed=config.seed
    )
    characters = vocabulary.adapt_vocabulary(data.texts["train"], "character", text_base.model.max_tokens)
    keras.utils.set_random_seed(config.seed)
    text_models = {
        cell: text_rnn.build_text_classifier(
            dataclasses.replace(text_base.model, cell=cell), characters, len(data.class_names), use_cudnn=False
        )
        for cell in ("gru", "lstm")
    }

    text_inputs = tf.constant([str(t) for t in data.texts["train"][:batch]], tf.string)
    text_targets = data.labels["train"][:batch]
    text_times = _time_steps(text_models, text_inputs, text_targets, config.timing_steps)
    rows.append(
        (
            f"text ({common.describe(text_base, ('units', 'embedding_dim', 'bidirectional', 'max_length'))}, "
            f"distance {text_base.data.distance})",
            text_models,
            text_times,
        )
    )

    # Video: the video pipeline's CNN + recurrent model at its preset width, on fixed clips.
    video_base = config_lib.replace(video_configs.PRESETS[config.pipeline_preset], seed=config.seed).resolved()
    rng = np.random.default_rng(config.seed)
    clips = np.stack(
        [
            shape_motion.render_clip(rng, shape_motion.MOTIONS[i % 6], video_base.data.num_frames, 32)
            for i in range(min(batch, 16))
        ]
    )
    clip_targets = np.tile((np.arange(len(clips)) % 6)[:, None], (1, video_base.data.num_frames))
    keras.utils.set_random_seed(config.seed)
    video_models = {
        cell: video_cnn_rnn.build_video_cnn_rnn(dataclasses.replace(video_base.model, cell=cell), 6, use_cudnn=False)
        for cell in ("gru", "lstm")
    }
    video_times = _time_steps(video_models, clips, clip_targets, config.timing_steps)
    rows.append(
        (
            f"video ({common.describe(video_base, ('frame_size', 'filters', 'units', 'num_frames'))})",
            video_models,
            video_times,
        )
    )
    # The recurrent layer alone, same width, so the cell's own cost is not hidden behind a CNN or embedding.
    width, steps = text_base.model.units[0], 100
    sequences = np.random.default_rng(config.seed).normal(size=(batch, steps, width)).astype("float32")

    def bare(cell: str) -> keras.Model:
        inputs = keras.Input((steps, width), name="sequence")
        outputs = text_rnn.recurrent_layer(cell, width, False, False, cell)(inputs)
        return keras.Model(inputs, keras.layers.Dense(6, activation="softmax")(outputs), name=f"bare_{cell}")

    keras.utils.set_random_seed(config.seed)
    bare_models = {cell: bare(cell) for cell in ("gru", "lstm")}
    bare_times = _time_steps(bare_models, sequences, np.arange(batch) % 6, config.timing_steps)
    rows.append((f"recurrent layer alone (units={width}, {steps} steps)", bare_models, bare_times))
    seconds = time.perf_counter() - start
    load_after = os.getloadavg()[0]

    table_rows, ratios, results = [], [], []
    for label, models, times in rows:
        total = {cell: int(model.count_params()) for cell, model in models.items()}
        recurrent = {
            cell: _recurrent_parameters(model, (cell, "recurrent", "bidirectional")) for cell, model in models.items()
        }
        ratio = {
            "recurrent parameters": recurrent["gru"] / recurrent["lstm"],
            "all parameters": total["gru"] / total["lstm"],
            "train step": times["gru"]["train"] / times["lstm"]["train"],
            "predict": times["gru"]["predict"] / times["lstm"]["predict"],
        }
        ratios.append((label.split(" (")[0], ratio))
        results.append(
            {"model": label, "parameters": total, "recurrent_parameters": recurrent, "seconds": times, "ratios": ratio}
        )
        table_rows.append(
            [
                label,
                f"{recurrent['gru']:,} / {recurrent['lstm']:,} = {ratio['recurrent parameters']:.2f}",
                f"{total['gru']:,} / {total['lstm']:,} = {ratio['all parameters']:.2f}",
                f"{times['gru']['train'] * 1e3:.1f} / {times['lstm']['train'] * 1e3:.1f} = {ratio['train step']:.2f}",
                f"{times['gru']['predict'] * 1e3:.1f} / {times['lstm']['predict'] * 1e3:.1f} = {ratio['predict']:.2f}",
            ]
        )
    measurement_dir = run_folder.make_run_dir(runs_dir, "gru_vs_lstm")
    (measurement_dir / "results.json").write_text(
        json.dumps(
            {
                "results": results,
                "batch_size": batch,
                "timed_steps": config.timing_steps,
                "seed": config.seed,
                "load_average_1min": [load_before, load_after],
                "cpus": os.cpu_count(),
                "seconds": round(seconds, 1),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    section.runs.append(measurement_dir)
    section.blocks.append(
        Table(
            [
                "model (same width for both cells)",
                "recurrent params GRU / LSTM",
                "all params",
                "train step ms",
                "predict ms",
            ],
            table_rows,
        )
    )
    section.blocks.append(
        f"Median of {config.timing_steps} steps per model and mode on a fixed batch ({batch} embedded sentences "
        f"for text, {len(clips)} generated clips for video), GRU and LSTM interleaved step by step, "
        f"CPU kernels (no cuDNN). Machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} before "
        f"and {load_after:.1f} after: absolute times inflate under load, the interleaved ratios much less."
    )
    footer = common.footer(
        f"batch {batch}, {config.timing_steps} timed steps, load {load_before:.1f}", config.seed, seconds
    )
    section.figures.append(
        Figure(
            figures.ratio_bars(ratios, figures_dir / "4_gru_vs_lstm.png", "GRU / LSTM at the same width", footer),
            f"GRU/LSTM ratios of parameters and median step times (below 1: GRU lighter). Text: {rows[0][0]}; "
            f"video: {rows[1][0]}. Seed {config.seed}; run time {seconds:.0f} s; load average {load_before:.1f}.",
        )
    )
    lighter_parameters = all(r["recurrent parameters"] < 1 for _, r in ratios)
    time_ratios = [r[key] for _, r in ratios for key in ("train step", "predict")]
    faster = [value < 1 - common.MARGIN for value in time_ratios]
    summary = ", ".join(
        f"{name}: recurrent parameters {r['recurrent parameters']:.2f}, train {r['train step']:.2f}, "
        f"predict {r['predict']:.2f}"
        for name, r in ratios
    )
    if lighter_parameters and all(faster):
        section.verdict, section.verdict_reason = "supported", f"GRU/LSTM {summary}."
    elif lighter_parameters:
        section.verdict = "partly supported"
        section.verdict_reason = (
            f"GRU has fewer parameters, but it is not faster in every timing (GRU/LSTM {summary}). Fewer "
            "parameters did not mean shorter steps on this CPU: a step is a loop of small matrix products over time, "
            "where per-step overhead weighs as much as the gate count, and in the full models the CNN or the "
            "embedding takes much of the time."
        )
    else:
        section.verdict, section.verdict_reason = "not supported", f"GRU/LSTM {summary}."
    return section
