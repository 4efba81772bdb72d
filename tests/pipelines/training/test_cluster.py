"""TF_CONFIG checking and the one-line errors of --strategy multi_worker (no TensorFlow started)."""

import json
import time

import pytest

from common.errors import UserError
from pipelines.training import cluster
from tests.helpers import run_module


def config(workers, task_type="worker", index=0, **extra):
    return json.dumps({"cluster": {"worker": workers, **extra}, "task": {"type": task_type, "index": index}})


def test_worker_zero_is_the_chief_unless_the_cluster_names_one():
    assert cluster.parse_tf_config(config(["a:1", "b:2"], index=0)).is_chief
    second = cluster.parse_tf_config(config(["a:1", "b:2"], index=1))
    assert not second.is_chief and second.num_workers == 2 and second.name == "worker 1"
    with_chief = json.dumps({"cluster": {"chief": ["c:3"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}})
    assert not cluster.parse_tf_config(with_chief).is_chief
    assert cluster.parse_tf_config(with_chief.replace('"type": "worker"', '"type": "chief"')).num_workers == 2


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "needs the TF_CONFIG environment variable"),
        ('{"cluster": ', "not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster"'),
        (json.dumps({"cluster": {"worker": ["a:1"]}}), 'needs "task"'),
        (config(["a:1", "b:2"], index=2), "index 2 is out of range"),
        (config(["a:1", "a:1"]), "same host:port twice"),
        (config(["a"]), '"host:port" strings'),
        (config(["a:1"], ps=["p:1"]), "only 'chief' and 'worker'"),
    ],
)
def test_malformed_tf_config_is_one_user_error(text, message):
    with pytest.raises(UserError, match=message):
        cluster.parse_tf_config(text)


def test_command_line_refuses_a_malformed_tf_config_in_one_line_before_tensorflow_starts():
    start = time.monotonic()
    result = run_module(
        "pipelines.image", "--preset", "tiny", "--strategy", "multi_worker", env={"TF_CONFIG": '{"cluster": ['}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: TF_CONFIG is not valid JSON"), result.stderr
    assert time.monotonic() - start < 30
