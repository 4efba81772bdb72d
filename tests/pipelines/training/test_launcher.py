"""pipelines.training.launcher: one TF_CONFIG per worker, prefixed lines, and no worker left behind."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import PROJECT_ROOT

# A worker that prints its TF_CONFIG, ignores SIGTERM (as TensorFlow blocked in a collective does)
# and then sleeps, or, as worker 1 given FAIL, exits with status 3.
WORKER = """
import json, os, signal, sys, time
config = json.loads(os.environ["TF_CONFIG"])
print("config", json.dumps(config), flush=True)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if config["task"]["index"] == 1 and len(sys.argv) > 1:
    time.sleep(1)
    print("giving up", file=sys.stderr, flush=True)
    sys.exit(3)
time.sleep(120)
"""


def launch(*worker_args, workers=2):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.training.launcher",
            "--workers",
            str(workers),
            "--",
            sys.executable,
            "-c",
            WORKER,
        ]
        + list(worker_args),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def worker_pids(stderr):
    return [int(pid) for pid in re.findall(r"\[launcher\] worker \d+: pid (\d+)", stderr)]


def assert_gone(pids):
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"worker pid {pid} is still running")


def test_one_failing_worker_stops_all_within_seconds_with_its_status():
    start = time.monotonic()
    launcher = launch("FAIL")
    stdout, stderr = launcher.communicate(timeout=60)
    assert launcher.returncode == 3, stderr
    assert time.monotonic() - start < 30  # 1 s, plus the SIGTERM grace before SIGKILL
    assert "[worker 1] giving up" in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: worker 1 exited with status 3")
    pids = worker_pids(stderr)
    assert len(pids) == 2
    assert_gone(pids)
    configs = [json.loads(line.split("config ", 1)[1]) for line in stdout.splitlines() if " config " in line]
    assert sorted(c["task"]["index"] for c in configs) == [0, 1]
    assert all(line.startswith(f"[worker {c['task']['index']}]") for line, c in zip(stdout.splitlines(), configs))
    (workers,) = {tuple(c["cluster"]["worker"]) for c in configs}  # one cluster, two loopback ports
    assert len(set(workers)) == 2 and all(w.startswith("127.0.0.1:") for w in workers)


@pytest.mark.slow  # timed out once in CI at high load (a race around SIGINT to be found); see the closing note
def test_ctrl_c_stops_every_worker():
    launcher = launch()
    deadline = time.monotonic() + 30
    lines = []
    while len(lines) < 2 and time.monotonic() < deadline:
        lines.append(launcher.stderr.readline())
    launcher.send_signal(signal.SIGINT)
    _, stderr = launcher.communicate(timeout=60)
    assert launcher.returncode == 130
    assert "stopped every worker" in stderr
    assert_gone(worker_pids("".join(lines)))
