"""Video input-pipeline overhead: ``python -m bench video_input`` (or ``python -m bench.video_input``).

Times the same training steps of the default video model (CNN + LSTM, 16 frames of 32x32, batch
32) fed three ways, and prints the ratio of each real pipeline to the in-memory one (target ≤ 1.10):

- cached tensors: batches already in memory (the floor: model compute only);
- embedded: ``pipelines.datasets.pipeline.batched`` over the moving-shapes TFDS split, as
  ``make train-video`` feeds it (read, decode, cache, shuffle, batch, prefetch; timed on a second
  pass, as every epoch after the first reads the cache);
- folder: a generated folder of 64x64 .mp4 clips decoded with OpenCV in the parallel tf.data map on
  every pass (no cache: training clips start at a random frame each epoch).

Run time: about 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from bench.support.table import format_table
from common import cli
from models import video_cnn_rnn
from pipelines.configs.video import VideoConfig
from pipelines.datasets import pipeline, video_sources
from pipelines.datasets.embedded import shape_motion

BENCH = "video_input"


def _time_steps(model, dataset, steps: int) -> float:
    """Seconds per training step over ``steps`` steps, after a short warm-up."""
    model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench.video_input")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)

    config = VideoConfig().resolved()  # the model a default run trains (frame size 32, its filters)
    frame_size, batch_size = config.model.frame_size, config.training.batch_size
    keras.utils.set_random_seed(0)
    data = video_sources.load(config.data, frame_size)
    embedded = pipeline.batched(data.train, batch_size, training=True, shuffle_buffer=4096).repeat()
    for _ in embedded.take(3200 // batch_size + 1):  # one pass fills the cache, as epoch 1 does
        pass
    batches = list(embedded.take(8).as_numpy_iterator())
    cached = tf.data.Dataset.from_tensor_slices(
        (np.stack([b[0] for b in batches]), np.stack([b[1] for b in batches]))
    ).repeat()

    with tempfile.TemporaryDirectory(prefix="bench-video-input-") as scratch:
        root = pathlib.Path(scratch)
        rng = np.random.default_rng(0)
        for motion in ("left", "right", "grow", "shrink"):
            (root / motion).mkdir()
            for index in range(24):
                frames = shape_motion.render_clip(rng, motion, num_frames=24, size=64)
                shape_motion.write_video(root / motion / f"{index}.mp4", frames)
        folder_settings = dataclasses.replace(config.data, dataset=str(root), min_clips_per_epoch=0)
        folder_data = video_sources.load(folder_settings, frame_size, seed=0)
        folder = pipeline.batched(folder_data.train, batch_size, training=True, cache=False, shuffle_buffer=4096)
        folder = folder.repeat()

        model = video_cnn_rnn.build_video_cnn_rnn(config.model, len(data.class_names))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        timings = {}
        for _ in range(2):  # alternate, so load from other processes hits both alike
            for name, dataset in (("cached", cached), ("embedded", embedded), ("folder", folder)):
                seconds = _time_steps(model, dataset, args.steps)
                timings[name] = min(timings.get(name, float("inf")), seconds)

    rows = [{"bench": BENCH, "metric": "train step, cached tensors", "value": timings["cached"] * 1000, "unit": "ms"}]
    for name, label in (("embedded", "embedded moving shapes"), ("folder", "folder of .mp4 (OpenCV each epoch)")):
        ratio = timings[name] / timings["cached"]
        rows.append(
            {
                "bench": BENCH,
                "metric": f"train step, {label}",
                "value": timings[name] * 1000,
                "unit": "ms",
                "ratio": ratio,
                "baseline": "cached tensors",
                "target": "<= 1.10",
                "ok": ratio <= 1.10,
            }
        )
    return rows


if __name__ == "__main__":
    print(format_table(main(sys.argv[1:])))
