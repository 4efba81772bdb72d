"""The development server in a child process on a free port, for tests, benchmarks and scripts.

    with dev_server.start("export") as server:       # python -m serving.rest.server --port 0
        Client(server.url).predict("video", ...)
    # stopped with SIGTERM, as Ctrl-C stops it; server.exit_code holds its status

The child prints its URL on its first line once it listens; :func:`start` waits for that line (the
models are loaded by then), so a request right after it is answered.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]


class DevServer:
    """A running ``python -m serving.rest.server``: its ``process``, its ``url``, and :meth:`stop`."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process, self.url = process, url
        self.exit_code: int | None = None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (killed after ``timeout`` seconds); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.exit_code = self.process.wait()
        return self.exit_code

    def __enter__(self) -> DevServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(
    export_root: str | os.PathLike,
    *arguments: str,
    stderr: str | os.PathLike | None = None,
    environment: dict[str, str] | None = None,
    timeout: float = 180,
) -> DevServer:
    """Starts the development server over ``export_root`` on 127.0.0.1 and a free port.

    Args:
        arguments: more ``serving.rest.server`` flags (``--poll-seconds 0.2``, ...).
        stderr: a file for the server's log (default: discarded).
        environment: variables added to this process's environment.
        timeout: seconds to wait for the server to listen.

    Raises:
        RuntimeError: the server exited or did not listen within ``timeout`` seconds.
    """
    command = [sys.executable, "-m", "serving.rest.server", "--export-root", str(export_root), "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(environment or {})}
    log = open(stderr, "w") if stderr else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            [*command, *arguments], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
    finally:
        if stderr:
            log.close()
    found: list[str] = []

    def read_url() -> None:
        for line in process.stdout:
            match = re.search(r"http://[\d.]+:\d+", line)
            if match:
                found.append(match.group(0))
                return

    reader = threading.Thread(target=read_url, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        server = DevServer(process, "")
        code = server.stop()
        detail = pathlib.Path(stderr).read_text()[-1500:] if stderr else ""
        raise RuntimeError(f"the development server did not start (exit code {code}) {detail}".strip())
    return DevServer(process, found[0])
