"""A ``.tflite`` file opened with the LiteRT runtime (``ai-edge-litert``), called by input name.

``tf.lite.Interpreter`` is deprecated in favour of ``ai_edge_litert.interpreter.Interpreter``, which
is what a device's Python runs (no TensorFlow needed). The runtime's start-up line ("Created TensorFlow
Lite XNNPACK delegate for CPU", written straight to file descriptor 2) is kept off the terminal, so a
one-line error stays one line; its errors come back as Python exceptions.
"""

from __future__ import annotations

import pathlib

import numpy as np

from common import quiet
from common.errors import UserError


class LiteModel:
    """One ``.tflite`` model: ``model(**inputs) → {output name: array}`` (copies, safe to keep).

    Args:
        path: the ``.tflite`` file.
        threads: CPU threads for its kernels (XNNPACK); 0 leaves the runtime's default.
    """

    def __init__(self, path: str | pathlib.Path, threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise UserError("the LiteRT runtime is not installed: pip install -r requirements.txt (ai-edge-litert)")
        self.path = pathlib.Path(path)
        try:
            with quiet.native_output_silenced():  # the delegate is created on the first call: one on zeros
                self._runner = Interpreter(model_path=str(self.path), num_threads=threads or None).get_signature_runner()
                self.inputs = self._runner.get_input_details()
                self._runner(**{name: np.zeros(d["shape"], d["dtype"]) for name, d in self.inputs.items()})
        except (ValueError, RuntimeError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UserError(f"cannot open {self.path} with LiteRT: {reason}; run `make export-lite` again") from None
        self.outputs = self._runner.get_output_details()

    def input_shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(size) for size in self.inputs[name]["shape"])

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        return self._runner(**{name: np.asarray(value, self.inputs[name]["dtype"]) for name, value in inputs.items()})
