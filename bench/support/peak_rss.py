"""Runs a command and writes its peak resident memory in MiB to a file.

    python -m bench.support.peak_rss PEAK_FILE COMMAND [ARG ...]   # exits with the command's status

A child's ``ru_maxrss`` (from ``wait4``) also counts the memory of the process it was forked from, as
it was just before ``exec``: Linux keeps the larger of the two high-water marks across ``exec``. So a
command started by a benchmark that has TensorFlow loaded reports at least the benchmark's own 1.4 GB,
however little it uses itself. Started from this small process instead, it reports its own peak.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m bench.support.peak_rss PEAK_FILE COMMAND [ARG ...]", file=sys.stderr)
        return 2
    peak_file, command = argv[0], argv[1:]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    with open(peak_file, "w", encoding="utf-8") as handle:
        handle.write(f"{usage.ru_maxrss / 1024.0}\n")  # KiB on Linux
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
