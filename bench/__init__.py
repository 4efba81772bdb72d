"""Benchmarks: each module has ``main(argv) -> list[dict]`` rows; ``python -m bench`` runs them all.

A row is ``{"bench", "metric", "value", "unit"}`` plus, where there is one, ``"ratio"`` (the value
relative to its baseline, named in ``"baseline"``), ``"target"`` (text such as ``">= 0.8"``) and
``"ok"`` (whether the target is met).
"""

from common import quiet  # noqa: F401, E402 - the native log levels, before a benchmark module imports TensorFlow
