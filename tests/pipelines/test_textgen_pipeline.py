"""``python -m pipelines.textgen`` end to end: train, export, a plain-TensorFlow fresh process, ``generate``, REST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
import urllib.request

import pytest
from tensorflow.core.protobuf import saved_model_pb2

from common import cli
from pipelines import textgen
from pipelines.datasets.embedded import chinese_sentences
from tests.helpers import run_module

# Runs in a fresh interpreter that imports only TensorFlow: the export must stand on its own.
FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf

loaded = tf.saved_model.load(sys.argv[1])
serve = loaded.signatures["serving_default"]

def call(prompts, length, temperature, seed):
    text = serve(prompt=tf.constant(prompts, tf.string), length=tf.constant(length, tf.int32),
                 temperature=tf.constant(temperature, tf.float32), seed=tf.constant(seed, tf.int64))["text"]
    return [t.decode("utf-8") for t in text.numpy()]

prompts = ["我喜欢", "", "🙂 ǅ unseen"]
print(json.dumps({
    "first": call(prompts, 30, 0.8, 1),
    "again": call(prompts, 30, 0.8, 1),
    "other_seed": call(prompts, 30, 0.8, 2),
    "zero": call(prompts, 0, 0.8, 1),
    "long": [len(t) for t in call(["我喜欢"], 5000, 1.0, 1)],
    "empty_batch": call([], 5, 1.0, 1),
    "top_1": [t.decode("utf-8") for t in loaded.generate(tf.constant(["我"]), tf.constant(20), tf.constant(1.0),
                                                           tf.constant(5, tf.int64), tf.constant(1))["text"].numpy()],
    "greedy": call(["我"], 20, 0.0, 6),
    "defaults": [t.decode("utf-8") for t in loaded.serving_default(tf.constant(["我喜欢"]))["text"].numpy()],
}, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny ``python -m pipelines.textgen`` run on 800 sentences: its summary, run folder and export root."""
    root = tmp_path_factory.mktemp("textgen")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(chinese_sentences.sentences("train", 800)) + "\n", encoding="utf-8")
    started = time.perf_counter()
    result = run_module(
        "pipelines.textgen",
        "--preset", "tiny",
        "--dataset", str(corpus),
        "--epochs", "4",
        "--runs-dir", str(root / "runs"),
        "--export-dir", str(root / "export"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    return types.SimpleNamespace(
        summary=summary,
        run_dir=root / "runs" / "textgen" / os.path.basename(summary["run_dir"]),
        export_root=root / "export",
        version_dir=root / "export" / "textgen" / "1",
        seconds=time.perf_counter() - started,
    )


@pytest.fixture(scope="module")
def server_url(trained, dev_server):
    """A development server over the tiny export, for this module's tests."""
    server = dev_server(trained.export_root)
    yield server.url
    server.stop()


def test_tiny_run_reports_perplexities_and_writes_samples(trained):
    summary = trained.summary
    assert summary["validation_perplexity"] < summary["unigram_perplexity"] / 3
    metrics = json.loads((trained.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["validation"]["perplexity"] == summary["validation_perplexity"]
    assert {"perplexity", "unigram_perplexity"} <= set(metrics["test"])
    assert set(metrics["samples"]) == {"0.2", "1.0"}
    samples = (trained.run_dir / "samples.txt").read_text(encoding="utf-8")
    assert "=== temperature 0.2" in samples and "--- prompt '我喜欢'\n我喜欢" in samples
    assert (trained.run_dir / "config.json").exists() and (trained.run_dir / "training_curves.png").exists()
    assert set(metrics["export"]["reload_max_difference"]) == {"serving_default", "step", "classes"}


def test_export_signatures_have_defaults_and_no_cudnn_ops(trained):
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((trained.version_dir / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0]
    serving = graph.signature_def["serving_default"]
    assert set(serving.inputs) == {"prompt", "length", "temperature", "seed"} and set(serving.outputs) == {"text"}
    assert set(serving.defaults) == {"length", "temperature", "seed"}  # optional inputs
    assert {"serving_default", "generate", "step", "classes"} <= set(graph.signature_def)
    assert set(graph.signature_def["step"].inputs) == {"characters", "state_0"}
    ops = {node.op for node in graph.graph_def.node}
    ops |= {node.op for function in graph.graph_def.library.function for node in function.node_def}
    assert not any("Cudnn" in op for op in ops)
    assert ops & {"While", "StatelessWhile"}  # the sampling loop is in the graph
    assert (trained.version_dir / "assets.extra" / "classes.json").exists()


def test_fresh_plain_tensorflow_process_generates_from_the_prompt(trained):
    result = subprocess.run(
        [sys.executable, "-I", "-c", FRESH_PROCESS, str(trained.version_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    prompts = ["我喜欢", "", "🙂 ǅ unseen"]
    for prompt, text in zip(prompts, outputs["first"]):
        assert text.startswith(prompt) and len(text) == len(prompt) + 30
    assert outputs["again"] == outputs["first"]  # same seed, same text
    assert outputs["other_seed"] != outputs["first"]
    assert outputs["zero"] == prompts
    assert outputs["long"] == [5003]
    assert outputs["empty_batch"] == []
    assert outputs["top_1"] == outputs["greedy"]
    assert outputs["defaults"][0].startswith("我喜欢") and len(outputs["defaults"][0]) == 3 + 40  # tiny: length 40


def test_generate_command_is_deterministic_per_seed(trained, tmp_path):
    arguments = ["generate", "--prompt", "我喜欢", "--length", "25", "--seed", "3", "--export-dir"]
    first = run_module("pipelines.textgen", *arguments, str(trained.export_root))
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.startswith("我喜欢")
    assert run_module("pipelines.textgen", *arguments, str(trained.export_root)).stdout == first.stdout
    missing = run_module("pipelines.textgen", "generate", "--export-dir", str(tmp_path))
    assert missing.returncode == 2 and missing.stderr.startswith("error: no textgen export")
    assert missing.stderr.strip().count("\n") == 0 and "train-textgen" in missing.stderr


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_rest_dev_server_serves_the_generator(server_url, trained):
    body = {"inputs": {"prompt": ["我喜欢", ""], "length": 20, "temperature": 0.5, "seed": 4}}
    answer = _post(f"{server_url}/v1/models/textgen:predict", body)
    assert answer["outputs"][0].startswith("我喜欢") and len(answer["outputs"]) == 2
    assert _post(f"{server_url}/v1/models/textgen:predict", body) == answer  # same seed, same text
    classes = _post(f"{server_url}/v1/models/textgen:predict", {"signature_name": "classes", "instances": [""]})
    vocabulary = classes["predictions"][0]
    step = _post(
        f"{server_url}/v1/models/textgen:predict",
        {"signature_name": "step", "inputs": {"characters": ["\n我"], "state_0": [[0.0] * 32]}},
    )
    assert len(step["outputs"]["probabilities"][0]) == len(vocabulary) and len(step["outputs"]["state_0"][0]) == 32


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    for arguments in (["--cell", "simple_rnn"], ["--dataset", str(tmp_path / "missing.txt")], ["--units", "0"]):
        assert cli.run(textgen.main, [*arguments, "--runs-dir", str(tmp_path / "runs")]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and error.count("\n") == 1
