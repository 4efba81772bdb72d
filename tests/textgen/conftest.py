"""Fixtures for the text-generation tests: tiny corpora in tmp_path, one tiny trained export, a dev server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import types

import pytest

from pipelines.datasets.embedded import chinese_sentences
from tests.conftest import PROJECT_ROOT, run_module


@pytest.fixture
def tiny_config():
    """The model fields of a tiny TextGenConfig."""
    return types.SimpleNamespace(cell="gru", units=(8,), embedding_dim=8, dropout=0.0)


@pytest.fixture
def corpus_file(tmp_path):
    """A .txt corpus of 300 grammar sentences, one per line."""
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(chinese_sentences.sentences("train", 300)) + "\n", encoding="utf-8")
    return path


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
def server_url(trained):
    """A development server (``python -m serving.rest.server``) on a free port over the tiny export."""
    environment = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-m", "serving.rest.server", "--export-root", str(trained.export_root), "--port", "0"]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    url = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and url is None:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"http://([\d.]+):(\d+)", line)
        if match:
            url = f"http://{match.group(1)}:{match.group(2)}"
    if url is None:
        process.kill()
        raise RuntimeError(f"the development server did not start (exit code {process.poll()})")
    yield url
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
