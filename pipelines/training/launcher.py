"""``python -m pipelines.training.launcher --workers N -- COMMAND ...``: N local workers of one multi-worker job.

make train-video WORKERS=2 PRESET=tiny   # what the Makefile runs for WORKERS=N

Each worker is COMMAND with its own ``TF_CONFIG`` (a cluster of N workers on free loopback ports;
worker 0 is the chief), in its own process group, with its lines prefixed ``[worker i]``. Ctrl-C, or
one worker failing, stops every worker (SIGTERM, then SIGKILL after a grace period) and the launcher
exits with that worker's status: no process is left behind. Running the same command again resumes
the job from its last finished epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from common import cli

GRACE_SECONDS = 5.0


def free_ports(count: int) -> list[int]:
    """Ports the kernel has just handed out on 127.0.0.1 (held together so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: Sequence[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def _forward(stream, prefix: str, out) -> None:
    for line in iter(stream.readline, b""):
        out.buffer.write(prefix.encode() + line)
        out.buffer.flush()
    stream.close()


class Workers:
    """The worker processes of one job, each in its own session (process group)."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []
        self.forwarders: list[threading.Thread] = []

    def start(self, command: Sequence[str], num_workers: int, threads: int) -> None:
        ports = free_ports(num_workers)
        for index in range(num_workers):
            env = {**os.environ, "TF_CONFIG": tf_config(ports, index)}
            if threads:
                for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
                    env.setdefault(name, str(threads))
            process = subprocess.Popen(
                list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
            )
            self.processes.append(process)
            print(f"[launcher] worker {index}: pid {process.pid}, port {ports[index]}", file=sys.stderr, flush=True)
            for stream, out in ((process.stdout, sys.stdout), (process.stderr, sys.stderr)):
                thread = threading.Thread(target=_forward, args=(stream, f"[worker {index}] ", out), daemon=True)
                thread.start()
                self.forwarders.append(thread)

    def wait(self) -> tuple[int, int | None]:
        """Waits until all succeed (0, None) or one fails: (its status, its index)."""
        while True:
            codes = [process.poll() for process in self.processes]
            for index, code in enumerate(codes):
                if code not in (None, 0):
                    return code, index
            if all(code == 0 for code in codes):
                return 0, None
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to every live worker's process group, SIGKILL to what is left after the grace period."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = [process for process in self.processes if process.poll() is None]
            for process in alive:
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + GRACE_SECONDS
            while alive and time.monotonic() < deadline:
                alive = [process for process in alive if process.poll() is None]
                time.sleep(0.1)
        for process in self.processes:
            # The group may hold children (the export's fresh-process check) of a worker that already exited.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        for thread in self.forwarders:
            thread.join(timeout=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m pipelines.training.launcher", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, required=True, help="number of local workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=-1,
        help="TensorFlow threads per worker (default: the CPU cores shared out; 0: TensorFlow's default)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the training command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.workers < 1:
        print(f"error: WORKERS must be a positive number, got {args.workers}", file=sys.stderr)
        return 2
    if not command:
        print("error: give the training command after --, e.g. -- python -m pipelines.image", file=sys.stderr)
        return 2
    threads = max(1, (os.cpu_count() or 1) // args.workers) if args.threads < 0 else args.threads

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    workers = Workers()
    try:
        workers.start(command, args.workers, threads)
        code, failed = workers.wait()
    except KeyboardInterrupt:
        workers.stop()
        print("[launcher] interrupted: stopped every worker", file=sys.stderr)
        return 130
    if failed is not None:
        workers.stop()
        status = f"signal {-code}" if code < 0 else f"status {code}"
        print(
            f"error: worker {failed} exited with {status}; stopped the others. Run the same command again to "
            "resume from the last finished epoch",
            file=sys.stderr,
        )
        return 128 - code if code < 0 else code
    workers.stop()  # nothing is alive; reaps the forwarders
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
