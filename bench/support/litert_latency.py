"""Per-call latency of a model one frame (or image) at a time on one CPU thread: SavedModel against LiteRT.

    python -m bench.support.litert_latency LITE_DIR SAVEDMODEL_DIR [--calls 1000] [--repeats 3]
    # prints one JSON object: {runtime: {"p50_ms": [one per repeat], "p95_ms": [...]}}

Runtimes: ``savedmodel`` (the export's ``stream`` signature with one frame and the states, the way a
client streaming frame by frame calls it in-process; for an image model ``serving_default`` on one
image) and each ``.tflite`` of the LiteRT version (``ai-edge-litert``, one thread: XNNPACK). The
states are carried from call to call, as on a device; the frames are a fixed set of random pixels at
the model's size, cycled. Each repeat measures every runtime in turn (``calls`` timed calls after 20
untimed ones), so a drift of the machine's speed touches them all alike. Runs in a process of its
own: TensorFlow's thread pools are fixed when it starts, and here they have one thread.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import numpy as np

from common import cli
from serving.classify import frame_classifiers
from serving.export import litert_convert, litert_model

WARM_UP_CALLS = 20


def _savedmodel_call(version_dir: pathlib.Path, metadata: dict):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(version_dir))
    if metadata["states"]:
        stream = loaded.signatures["stream"]
        state = {s["name"]: tf.zeros(s["shape"]) for s in metadata["states"]}

        def call(frame):
            nonlocal state
            outputs = stream(frames=tf.constant(frame[np.newaxis, np.newaxis]), **state)
            state = {name: outputs[name] for name in state}
            return outputs["probabilities"].numpy()

        return call
    serve = loaded.signatures["serving_default"]
    return lambda image: serve(images=tf.constant(image[np.newaxis]))["probabilities"].numpy()


def _litert_call(path: pathlib.Path, metadata: dict):
    model = litert_model.LiteModel(path, threads=1)
    input_name = metadata["input"]["name"]
    state = {s["name"]: np.zeros(s["shape"], np.float32) for s in metadata["states"]}

    def call(frame):
        nonlocal state
        outputs = model(**{input_name: frame[np.newaxis]}, **state)
        state = {name: outputs[name] for name in state}
        return outputs["probabilities"]

    return call


def measure(calls: dict, frames: np.ndarray, num_calls: int, repeats: int) -> dict:
    results = {name: {"p50_ms": [], "p95_ms": []} for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            for index in range(WARM_UP_CALLS):
                call(frames[index % len(frames)])
            times = np.empty(num_calls)
            for index in range(num_calls):
                started = time.perf_counter()
                call(frames[index % len(frames)])
                times[index] = time.perf_counter() - started
            results[name]["p50_ms"].append(round(1000 * float(np.percentile(times, 50)), 4))
            results[name]["p95_ms"].append(round(1000 * float(np.percentile(times, 95)), 4))
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = cli.ArgumentParser(prog="python -m bench.support.litert_latency")
    parser.add_argument("lite_dir")
    parser.add_argument("savedmodel_dir")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    frame_classifiers.limit_tensorflow_threads(1)
    lite_dir = pathlib.Path(args.lite_dir)
    metadata = json.loads((lite_dir / "metadata.json").read_text())
    shape = metadata["input"]["shape"][1:]
    frames = np.random.default_rng(0).integers(0, 256, (16, *shape), dtype=np.uint8)
    calls = {"savedmodel": _savedmodel_call(pathlib.Path(args.savedmodel_dir), metadata)}
    for precision in litert_convert.PRECISIONS:
        calls[precision] = _litert_call(lite_dir / litert_convert.file_name(precision), metadata)
    return measure(calls, frames, args.calls, args.repeats)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
