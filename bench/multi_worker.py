"""Multi-worker scaling on this machine: ``python -m bench multi_worker`` (or ``python -m bench.multi_worker``).

Trains the default image CNN (48x48, batch 32 per worker) with the multi-worker loop of
``--strategy multi_worker`` (pipelines.training.distributed_fit), started by pipelines.training.launcher on loopback
with one TensorFlow thread per worker, first as 1 worker and then as 2, and prints:

- examples/s of 1 worker and of 2 (ratio: 2 workers over 1; 2.0 would be perfect scaling);
- the all-reduce time per step: one all-reduce of a tensor the size of the model's gradients
  between the 2 workers (ratio: its share of a 2-worker step), the cost a cluster adds per step.

Run time: about 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from bench.support.table import format_table
from common import cli
from models import cnn
from pipelines.configs.image import ImageConfig
from pipelines.training import cluster, distributed_fit

BENCH = "multi_worker"


def worker(steps: int, repeats: int) -> None:
    """One worker of the job: times ``steps`` training steps and ``repeats`` gradient-sized all-reduces."""

    strategy = cluster.make_strategy(120.0)
    config = ImageConfig().resolved()  # the embedded shapes: the small CNN, 48 px
    replicas = strategy.num_replicas_in_sync
    global_batch = config.training.batch_size * replicas
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = cnn.build_image_classifier(config.model, 6)
        optimizer = keras.optimizers.Adam(config.training.learning_rate)
        optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    size = config.model.image_size
    images = rng.integers(0, 256, (256, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, 6, 256)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(global_batch)
    batches = iter(strategy.experimental_distribute_dataset(distributed_fit.shard_by_element(dataset)))
    steps_fn = distributed_fit.Steps(model, optimizer, strategy, global_batch)
    for _ in range(3):  # trace and warm up
        steps_fn.train(*next(batches)).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        steps_fn.train(*next(batches)).numpy()
    step_seconds = (time.perf_counter() - start) / steps
    gradients = tf.zeros([sum(int(np.prod(v.shape)) for v in model.trainable_variables)], tf.float32)
    steps_fn.all_sum(gradients).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        steps_fn.all_sum(gradients).numpy()
    allreduce_seconds = (time.perf_counter() - start) / repeats
    if cluster.is_chief():
        result = {
            "workers": replicas,
            "examples_per_second": global_batch / step_seconds,
            "step_ms": step_seconds * 1000,
            "allreduce_ms": allreduce_seconds * 1000,
            "gradient_values": int(gradients.shape[0]),
        }
        print("BENCH " + json.dumps(result), flush=True)


def run_job(num_workers: int, steps: int, repeats: int) -> dict:
    command = [sys.executable, "-m", "bench.multi_worker", "--worker", "--steps", str(steps), "--repeats", str(repeats)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.training.launcher",
            "--workers",
            str(num_workers),
            "--threads",
            "1",
            "--",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = re.search(r"\[worker 0\] BENCH (\{.*\})", result.stdout)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"{num_workers}-worker bench job failed: {result.stderr[-2000:]}")
    return json.loads(found.group(1))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench.multi_worker")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--worker", action="store_true", help="(internal) run as one worker of the job")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps, args.repeats)
        return []
    one = run_job(1, args.steps, args.repeats)
    two = run_job(2, args.steps, args.repeats)
    return [
        {
            "bench": BENCH,
            "metric": "image CNN examples/s, 1 worker (1 thread)",
            "value": one["examples_per_second"],
            "unit": "ex/s",
        },
        {
            "bench": BENCH,
            "metric": "image CNN examples/s, 2 workers (1 thread each)",
            "value": two["examples_per_second"],
            "unit": "ex/s",
            "ratio": two["examples_per_second"] / one["examples_per_second"],
            "baseline": "1 worker",
        },
        {
            "bench": BENCH,
            "metric": f"all-reduce of the gradients ({two['gradient_values']:,} floats), 2 workers",
            "value": two["allreduce_ms"],
            "unit": "ms/step",
            "ratio": two["allreduce_ms"] / two["step_ms"],
            "baseline": f"a 2-worker step ({two['step_ms']:.0f} ms)",
        },
    ]


if __name__ == "__main__":
    rows = main()
    if rows:
        print(format_table(rows))
