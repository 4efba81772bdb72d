"""The quiet TensorFlow import: library start-up chatter kept off the terminal, real warnings kept.

Importing this module sets, once and for every process the project starts (children inherit the
environment), the log levels that TensorFlow's and OpenCV's native code read before Python can
filter anything: ``TF_CPP_MIN_LOG_LEVEL=2`` (TensorFlow's C++ INFO and WARNING lines: oneDNN, CPU
features) and OpenCV's FFmpeg messages about broken files (the readers report skips in one line of
their own). A value already set by the user wins. :func:`import_tensorflow` then imports TensorFlow
with its remaining C++ start-up lines kept off stderr.

It also drops one import-time notice at its source, the root logger: Apache Beam installed without
its ``[gcp]`` extra logs "apitools not found, and bigquery client libraries are not available" in
every process that imports it (the library job's launcher and each of its workers), about BigQuery,
which the project never uses. Any other record passes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

_IMPORT_NOTICES = ("apitools not found, and bigquery client libraries are not available",)


class _DropImportNotices(logging.Filter):
    """On the root logger: drops the notices above, which libraries log with ``logging.warning`` on import."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_IMPORT_NOTICES))


logging.getLogger().addFilter(_DropImportNotices())


def import_tensorflow() -> None:
    """Imports TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) kept off stderr.

    TensorFlow's native logging writes straight to file descriptor 2 before Python can filter it,
    so a one-line error would drown in them. Python-level import errors still surface. On a machine
    without an NVIDIA driver the devices are also listed here, as the CUDA probe then logs an
    error line ("failed call to cuInit") at the first use of TensorFlow; with a driver it may
    have something to say, so it is left to speak.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow

            if not os.path.exists("/proc/driver/nvidia"):
                tensorflow.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def native_output_silenced(*descriptors: int) -> Iterator[None]:
    """File descriptors (default 2, stderr) point to /dev/null for the block: what native code writes
    straight to them (LiteRT's "Created TensorFlow Lite XNNPACK delegate", the converter's quantiser
    settings) stays off the terminal. Python's own streams are flushed first; errors still come back
    as exceptions."""
    descriptors = descriptors or (2,)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in descriptors]
    try:
        with open(os.devnull, "w") as devnull:
            for fd in descriptors:
                os.dup2(devnull.fileno(), fd)
            yield
    finally:
        for fd, copy in zip(descriptors, saved):
            os.dup2(copy, fd)
            os.close(copy)
