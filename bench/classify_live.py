"""classify-video on a live stream: ``python -m bench classify_live`` (or ``python -m bench.classify_live``).

A stream served on loopback at real-time rate (``bench.support.mjpeg_server``: the frames of
../shared/data/videos/slow_traffic_small.mp4, or of a generated clip, as MJPEG over HTTP at 30 fps,
127.0.0.1 only), classified by ``python -m serving.classify.video URL`` in a child process with the
video model. Prints the delay from each frame's arrival (the capture returning it) to its row
flushed to frames.csv, as classify-video measures it (summary.json ``latency_ms``): median and 95th
percentile, target p95 <= 100 ms; and frames served against rows written, target: no frame
skipped. Also, from outside the tool, the delay from the server writing each frame to the socket to
its row appearing in frames.csv, as this process sees it by reading the file every 2 ms (both clocks
are the same ``time.monotonic``): it adds what the tool cannot see itself, the transfer, OpenCV's
buffering and the decoding, and up to 2 ms of polling. ``--seconds`` of stream (default 10: 300 frames).
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from bench import classify_video as bench_classify
from bench.support.mjpeg_server import MjpegServer
from bench.support.table import Rows, format_table
from common import cli

BENCH = "classify_live"
FPS = 30.0
POLL_S = 0.002


def watch_rows(path: pathlib.Path, stop: threading.Event) -> list[float]:
    """``time.monotonic()`` at which each complete row of the CSV at ``path`` was first seen (header
    excluded), reading the file every ``POLL_S`` seconds, a last time once ``stop`` is set."""
    seen: list[float] = []
    offset = lines = 0
    while True:
        final = stop.is_set()
        if path.exists():
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
            offset, lines = offset + len(data), lines + data.count(b"\n")  # a partial line counts once ended
            seen.extend([time.monotonic()] * (lines - 1 - len(seen)))  # the header is not a frame
        if final:
            return seen
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.ArgumentParser(prog="python -m bench.classify_live")
    parser.add_argument("--export-dir", default=str(bench_classify.PROJECT_ROOT / "export"))
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    rows = row = Rows(BENCH)

    with tempfile.TemporaryDirectory(prefix="bench-live-") as scratch:
        scratch = pathlib.Path(scratch)
        export_root, kinds = bench_classify.prepare_models(pathlib.Path(args.export_dir), scratch)
        row("model video", kinds["video"], "")
        source = bench_classify.SHARED_VIDEO
        if not source.exists():
            source = bench_classify.generate_video(scratch / "generated.mp4", 300, 640, 360)
        frames = int(args.seconds * FPS)
        out = scratch / "live"
        with MjpegServer(source, fps=FPS, max_frames=frames) as server:
            command = [sys.executable, "-m", "serving.classify.video", server.url, "--model", "video"]
            command += ["--export-dir", str(export_root), "--out", str(out), "--retries", "0"]
            environment = {**os.environ, "PYTHONPATH": str(bench_classify.PROJECT_ROOT)}
            stop, seen = threading.Event(), []
            watcher = threading.Thread(target=lambda: seen.extend(watch_rows(out / "frames.csv", stop)), daemon=True)
            watcher.start()
            result = subprocess.run(command, cwd=bench_classify.PROJECT_ROOT, env=environment, capture_output=True,
                                    text=True, check=False)  # fmt: skip
            stop.set()
            watcher.join()
            sent, sent_times = server.sent, list(server.sent_times)
        if result.returncode != 0:
            raise RuntimeError(f"classify-video on {server.url} failed: {result.stderr[-1500:]}")
        summary = json.loads((out / "summary.json").read_text())
        with open(out / "frames.csv", encoding="utf-8") as handle:
            written = [int(line["frame"]) for line in csv.DictReader(handle)]
        what = f"{source.name} as MJPEG over HTTP at {FPS:.0f} fps ({sent} frames)"
        latency = summary["latency_ms"]
        row(f"{what}: arrival to row on disk, median", latency["p50"], "ms")
        row(f"{what}: arrival to row on disk, p95", latency["p95"], "ms", target="<= 100", ok=latency["p95"] <= 100)
        row(f"{what}: arrival to row on disk, max", latency["max"], "ms")
        count = min(len(seen), len(sent_times))
        outside = 1000 * (np.array(seen[:count]) - np.array(sent_times[:count]))
        for name, value in (("median", np.median(outside)), ("p95", np.percentile(outside, 95))):
            row(f"{what}: sent by the server to row seen in frames.csv by another process, {name}", value, "ms")
        complete = written == list(range(sent))
        row(f"{what}: rows written", len(written), "rows", len(written) / max(sent, 1), "frames served",
            "every frame, in order", complete)  # fmt: skip
    return rows


if __name__ == "__main__":
    print(format_table(main(sys.argv[1:])))
