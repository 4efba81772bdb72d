"""What FFmpeg's own transcoder reaches against the same kind of ceiling as classify-video's ``--annotate``.

    python -m bench.support.ffmpeg_reference VIDEO [--frames 900]   # prints one JSON object (or null: no ffmpeg)

``bench.classify_video`` holds ``--annotate`` to 0.85x of ``cores / (sum of the stages' CPU alone)``.
That bound assumes the stages cost as much side by side as alone, and that the cores can always be
kept busy. This measures how near a pipeline written entirely in C gets to it on this machine: the
``ffmpeg`` command line (from FFmpeg 7 on, its demuxer, decoder, encoder and muxer each in a thread of
its own; the version is reported) turning the first ``frames`` frames of ``VIDEO`` into H.264 with
x264's ``ultrafast`` preset, as annotated.mp4 is made, but with two of classify-video's four stages (no
resizing, no inference). Its own stages are timed alone by the CPU time of an ``ffmpeg`` process that
only decodes (one thread, as classify-video decodes when it annotates) and one that only encodes the
same frames from a raw file (less the CPU of reading that file); the transcode's wall time is compared
with the bound they give (each ``ffmpeg`` start costs about 0.03 s, which moves the ratio by about 2%
at 900 frames). Each of ``RUNS`` runs measures the three back to back (this machine's speed drifts
from minute to minute); the run with the best ratio is reported.

Needs an ``ffmpeg`` binary with libx264: on PATH, else the one ``imageio-ffmpeg`` carries when that
package is installed (it is not in requirements.txt: 160 MB for one line of a benchmark).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import cv2

from common import cli

RUNS = 2


def find_ffmpeg() -> str | None:
    """The ``ffmpeg`` on PATH, else imageio-ffmpeg's, else None."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def _run(command: list[str]) -> tuple[float, float]:
    """Runs ``command``; returns (wall seconds, CPU seconds of the process, every thread counted)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        lines = process.stderr.read().decode(errors="replace").strip().splitlines() or ["no message"]
        raise RuntimeError(f"ffmpeg failed: {lines[-1][:200]}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(ffmpeg: str, video: pathlib.Path, frames: int, cores: int) -> dict:
    quiet = [ffmpeg, "-v", "error", "-nostdin", "-y"]
    source = ["-threads", "1", "-i", str(video), "-frames:v", str(frames)]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    runs = []
    with tempfile.TemporaryDirectory(prefix="ffmpeg-reference-") as scratch:
        raw, out = pathlib.Path(scratch) / "frames.yuv", pathlib.Path(scratch) / "out.mp4"
        _run(quiet + source + ["-f", "rawvideo", "-pix_fmt", "yuv420p", str(raw)])
        capture = cv2.VideoCapture(str(video))
        width, height = (int(capture.get(prop)) for prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        capture.release()
        count = raw.stat().st_size // (width * height * 3 // 2)  # the frames really decoded (4:2:0)
        raw_input = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", "30", "-i", str(raw)]
        for _ in range(RUNS):
            decode = _run(quiet + source + ["-f", "null", "-"])[1]
            reading = _run(quiet + raw_input + ["-f", "null", "-"])[1]
            encode = _run(quiet + raw_input + x264 + [str(out)])[1] - reading
            transcode_wall, transcode_cpu = _run(quiet + source + x264 + [str(out)])
            ceiling = cores * count / (decode + encode)
            runs.append(
                {
                    "frames": count,
                    "cpu_ms_per_frame": {"decode": 1000 * decode / count, "encode": 1000 * encode / count},
                    "ceiling_fps": ceiling,
                    "transcode_fps": count / transcode_wall,
                    "transcode_cpu_ms_per_frame": 1000 * transcode_cpu / count,
                    "ratio": count / transcode_wall / ceiling,
                }
            )
    best = max(runs, key=lambda run: run["ratio"])
    banner = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split()
    best["version"] = banner[2] if len(banner) > 2 else "unknown"  # "ffmpeg version 7.1.1 ..."
    return best


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m bench.support.ffmpeg_reference")
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=900)
    args = parser.parse_args(argv)
    ffmpeg = find_ffmpeg()
    cores = len(os.sched_getaffinity(0))
    print(json.dumps(measure(ffmpeg, pathlib.Path(args.video), args.frames, cores) if ffmpeg else None))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
