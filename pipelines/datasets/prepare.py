"""``python -m pipelines.datasets.prepare [NAME ...]`` (``make data``): generate embedded datasets in parallel.

Each embedded dataset is otherwise generated on first use, one process at a time (a file lock per
dataset), which on a fresh clone makes the first pipeline or test run wait for it. Preparing them
up front, one process each, uses every core. Already prepared datasets are left as they are.
"""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time

# What the pipelines read by default and what the test suite reads.
DEFAULT_NAMES = ("shapes_images", "moving_shapes", "chinese_reference/distance_40", "chinese_reference/distance_5")


def _prepare(name: str) -> tuple[str, int, float, str]:
    start = time.perf_counter()
    code = (
        "import sys; from common import quiet; quiet.import_tensorflow(); "
        "from pipelines.datasets import tfds_source; tfds_source.prepared_builder(sys.argv[1])"
    )
    result = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True)
    return name, result.returncode, time.perf_counter() - start, result.stderr.strip().splitlines()[-1:]


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv) or list(DEFAULT_NAMES)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        for name, code, seconds, last_line in pool.map(_prepare, names):
            if code:
                failed += 1
                print(f"error: preparing {name} failed: {' '.join(last_line)}", file=sys.stderr)
            else:
                print(f"{name}: ready ({seconds:.0f} s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
