"""Two workers on loopback train as one job: identical weights, one published version, resume after a kill."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from tests.helpers import PROJECT_ROOT, run_module

# Small enough for make test: two workers importing TensorFlow, two short epochs and the export.
SMALL = ["--image-size", "16", "--filters", "8,16", "--dense-units", "16", "--max-train-examples", "320"]


def launch_command(root, *flags, workers=2):
    return [
        sys.executable,
        "-m",
        "pipelines.training.launcher",
        "--workers",
        str(workers),
        "--",
        sys.executable,
        "-m",
        "pipelines.image",
        "--preset",
        "tiny",
        "--strategy",
        "multi_worker",
        "--runs-dir",
        str(root / "runs"),
        "--export-dir",
        str(root / "export"),
        "--cluster-timeout",
        "60",
        *flags,
    ]


def environment():
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def run_dirs(root):
    return sorted((root / "runs" / "image").glob("2*"))


def test_two_workers_train_identical_weights_and_publish_once(tmp_path):
    result = subprocess.run(
        launch_command(tmp_path, *SMALL, "--epochs", "2"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path)  # the chief's; worker 1 wrote to a temporary folder it removed
    distributed = json.loads((run_dir / "distributed.json").read_text())
    assert distributed["workers"] == 2 and distributed["global_batch"] == 2 * 32
    assert distributed["max_weight_difference_between_workers"] <= 1e-6
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + 2
    for name in ("best.weights.h5", "metrics.json", "training_curves.png", "tensorboard"):
        assert (run_dir / name).exists(), name
    assert [p.name for p in (tmp_path / "export" / "image").iterdir() if not p.name.startswith(".")] == ["1"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["export"]["reload_max_difference"]["serving_default"] <= 1e-5
    match = re.search(r"worker-runs-\w+", result.stdout)
    assert match and not (pathlib.Path(tempfile.gettempdir()) / match.group(0)).exists()  # worker 1 removed it
    assert "[worker 0] Epoch 2/2" in result.stdout and "[worker 1] Epoch" not in result.stdout


@pytest.mark.slow
def test_a_killed_worker_stops_the_job_and_the_same_command_resumes_it_to_one_export(tmp_path):
    command = launch_command(tmp_path, "--epochs", "10")
    launcher = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment()
    )
    stderr_lines = []  # drained in a thread, so that the workers never block on a full pipe
    reader = threading.Thread(target=lambda: stderr_lines.extend(launcher.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 400
    for line in launcher.stdout:
        if "Epoch 4/10" in line or time.monotonic() > deadline:
            break
    pids = [int(pid) for pid in re.findall(r"\[launcher\] worker \d+: pid (\d+)", "".join(stderr_lines))]
    assert len(pids) == 2, "".join(stderr_lines)[-3000:]
    os.kill(pids[1], signal.SIGKILL)
    start = time.monotonic()
    threading.Thread(target=lambda: launcher.stdout.read(), daemon=True).start()
    launcher.wait(timeout=120)
    reader.join(timeout=10)
    stderr = "".join(stderr_lines)
    assert launcher.returncode != 0 and time.monotonic() - start < 60
    assert stderr.strip().splitlines()[-1].startswith("error: worker 1 exited with signal 9")
    assert not (tmp_path / "export" / "image").exists() or not list((tmp_path / "export" / "image").glob("[0-9]*"))
    (backup,) = (tmp_path / "runs" / ".backup").iterdir()

    resumed = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900, env=environment())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert re.search(r"resuming from the backup .* after epoch [34]", resumed.stderr)
    run_dir = run_dirs(tmp_path)[-1]
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + 10  # earlier epochs kept
    assert json.loads((run_dir / "distributed.json").read_text())["resumed_after_epoch"] in (3, 4)
    assert [p.name for p in (tmp_path / "export" / "image").iterdir() if not p.name.startswith(".")] == ["1"]
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] > 0.3  # chance: 1/6
    assert not backup.exists()


@pytest.mark.slow
def test_a_peer_that_never_comes_up_is_one_line_within_the_timeout(tmp_path):
    config = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    start = time.monotonic()
    result = run_module(
        "pipelines.image",
        "--preset",
        "tiny",
        "--strategy",
        "multi_worker",
        "--cluster-timeout",
        "10",
        "--runs-dir",
        str(tmp_path / "runs"),
        env={"TF_CONFIG": json.dumps(config)},
        timeout=120,
    )
    assert time.monotonic() - start < 90
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: multi-worker worker 1: nothing moved for 10 s"), errors


@pytest.mark.slow
def test_the_survivor_of_a_worker_dying_mid_run_stops_with_one_line_in_bounded_time(tmp_path):
    from pipelines.training import launcher

    ports = launcher.free_ports(2)
    workers = []
    for index in range(2):
        command = launch_command(tmp_path / str(index), "--epochs", "10")[6:]  # the training command alone
        command[command.index("60")] = "30"  # --cluster-timeout
        workers.append(
            subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**environment(), "TF_CONFIG": launcher.tf_config(ports, index)},
            )
        )
    try:
        for line in workers[0].stdout:
            if "Epoch 2/10" in line:
                break
        workers[1].kill()
        start = time.monotonic()
        _, stderr = workers[0].communicate(timeout=120)
        assert time.monotonic() - start < 30 + 30
        assert workers[0].returncode != 0
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("error: multi-worker worker 0:") and "start every worker again" in last, last
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
