"""This process's place in a multi-worker job: TF_CONFIG, the strategy, and a watchdog against hangs.

``--strategy multi_worker`` reads ``TF_CONFIG`` (TensorFlow's convention, also Kubeflow's TFJob):

    {"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", "index": 0}}

Worker 0 (or a ``chief`` task, when the cluster has one) is the chief: it alone writes the run folder,
the plots and the export. A collective that waits on a peer that never came up or has died would
block forever, so a watchdog thread ends the process with one line when no training step has
finished for ``timeout`` seconds; collectives and the coordination service get the same bound.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time

from common.errors import UserError

TF_CONFIG_EXAMPLE = '{"cluster": {"worker": ["host0:2222", "host1:2222"]}, "task": {"type": "worker", "index": 0}}'
EXIT_PEER_LOST = 1


@dataclasses.dataclass(frozen=True)
class Role:
    """Where this process sits in the cluster."""

    task_type: str
    index: int
    jobs: dict[str, int]  # {"chief": 1, "worker": 3}: tasks per job

    @property
    def num_workers(self) -> int:
        return sum(self.jobs.values())

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or ("chief" not in self.jobs and self.index == 0)

    @property
    def name(self) -> str:
        return f"{self.task_type} {self.index}"


def parse_tf_config(text: str | None) -> Role:
    """Validates ``TF_CONFIG``; every problem is a one-line :class:`UserError` naming the fix."""
    if not text:
        raise UserError(f"--strategy multi_worker needs the TF_CONFIG environment variable, e.g. {TF_CONFIG_EXAMPLE}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"TF_CONFIG is not valid JSON ({error.msg} at character {error.pos}); e.g. {TF_CONFIG_EXAMPLE}"
        ) from None
    if not isinstance(value, dict) or not isinstance(value.get("cluster"), dict):
        raise UserError(f'TF_CONFIG needs a "cluster" object of "host:port" lists; e.g. {TF_CONFIG_EXAMPLE}')
    cluster, task = value["cluster"], value.get("task")
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown:
        raise UserError(f"TF_CONFIG cluster has job(s) {unknown}: only 'chief' and 'worker' are used by this trainer")
    addresses = []
    for job in ("chief", "worker"):
        hosts = cluster.get(job, [])
        if not isinstance(hosts, list) or not all(isinstance(h, str) and ":" in h for h in hosts):
            raise UserError(f'TF_CONFIG cluster "{job}" must be a list of "host:port" strings, got {hosts!r}')
        addresses += hosts
    if len(cluster.get("chief", [])) > 1:
        raise UserError("TF_CONFIG may name at most one chief")
    if not addresses:
        raise UserError(f"TF_CONFIG cluster lists no workers; e.g. {TF_CONFIG_EXAMPLE}")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise UserError(
            f'TF_CONFIG needs "task": {{"type": one of {sorted(cluster)}, "index": this host\'s position in that list}}'
        )
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise UserError(
            f"TF_CONFIG task index {task['index']} is out of range: the cluster has "
            f"{len(cluster[task['type']])} {task['type']} address(es)"
        )
    if len(set(addresses)) != len(addresses):
        raise UserError("TF_CONFIG lists the same host:port twice: every task needs its own port")
    return Role(task["type"], task["index"], {job: len(hosts) for job, hosts in cluster.items() if hosts})


_role: Role | None = None
_watchdog: Watchdog | None = None


def role() -> Role | None:
    """This process's role when it trains under ``--strategy multi_worker``, else None."""
    return _role


def is_chief() -> bool:
    """True unless this process is a non-chief worker of a multi-worker job."""
    return _role is None or _role.is_chief


def watchdog() -> Watchdog | None:
    return _watchdog


class Watchdog:
    """Ends the process with one line when no ``beat()`` came for ``timeout`` seconds.

    A collective op blocked on a dead or absent peer cannot be interrupted from Python; ending the
    process is the only bounded answer, and the job resumes from its last epoch when restarted.
    """

    def __init__(self, timeout: float, describe: str):
        self.timeout = timeout
        self._describe = describe
        self._stage = "waiting for the other workers"
        self._last = time.monotonic()
        self._active = True
        self._stopped = threading.Event()
        threading.Thread(target=self._watch, name="multi-worker watchdog", daemon=True).start()

    def beat(self, stage: str | None = None) -> None:
        """Progress: restarts the countdown (and arms the watchdog when paused)."""
        self._last = time.monotonic()
        self._active = True
        if stage:
            self._stage = stage

    def pause(self) -> None:
        """Between collectives (data preparation, evaluation, export) nothing can hang on a peer."""
        self._active = False

    def _watch(self) -> None:
        while not self._stopped.wait(min(5.0, self.timeout / 4)):
            if self._active and time.monotonic() - self._last > self.timeout:
                sys.stdout.flush()
                print(
                    f"error: multi-worker {self._describe}: nothing moved for {self.timeout:.0f} s while "
                    f"{self._stage}: a worker is down, unreachable or not started (check each host runs the same "
                    "command with its own TF_CONFIG); start every worker again to resume from the last finished epoch",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(EXIT_PEER_LOST)


def make_strategy(timeout: float):
    """Reads TF_CONFIG and returns a MultiWorkerMirroredStrategy whose waits are bounded by ``timeout``.

    Must run before TensorFlow executes its first op (the coordination service is configured here).
    """
    global _role, _watchdog
    role_ = parse_tf_config(os.environ.get("TF_CONFIG"))
    # Deferred: TF_CONFIG is checked (above, and by the command) before TensorFlow loads.
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    _role = role_
    _watchdog = Watchdog(timeout, role_.name)
    leader = "chief" if "chief" in role_.jobs else "worker"
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{leader}/replica:0/task:0",
        cluster_register_timeout_in_ms=int(timeout * 1000),
        shutdown_barrier_timeout_in_ms=int(timeout * 1000),
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=count) for job, count in role_.jobs.items()
        ],
    )
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
        )
    except (ValueError, tf.errors.OpError) as error:
        raise UserError(f"cannot start worker {role_.name} from TF_CONFIG: {str(error).splitlines()[0]}") from None
    _watchdog.pause()  # armed again by training, whose first collective waits for every worker
    return strategy
