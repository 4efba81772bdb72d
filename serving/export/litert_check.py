"""Runs staged ``.tflite`` files with LiteRT alone and writes their outputs, for the export to compare.

Run as a script in a fresh process (``python -I litert_check.py STAGING_DIR CASES_DIR``): it imports
NumPy and ``ai_edge_litert`` and nothing of the project or of TensorFlow, which is the point: the files
must run as they will on a device. ``CASES_DIR/inputs.npz`` holds ``inputs``: video clips
(n, time, size, size, 3), each fed one frame at a time from zero states, or images (n, size, size, 3),
one at a time; ``CASES_DIR/plan.json`` the files and the input and state names. Writes
``CASES_DIR/<precision>.npy`` (probabilities, (n, time, classes) or (n, classes)) and prints ``ok``.
"""

import json
import pathlib
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def run(path: pathlib.Path, inputs: np.ndarray, input_name: str, states: list[str]) -> np.ndarray:
    runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner()
    details = runner.get_input_details()
    results = []
    for item in inputs:
        if not states:
            results.append(runner(**{input_name: item[np.newaxis]})["probabilities"][0])
            continue
        carried = {name: np.zeros(details[name]["shape"], np.float32) for name in states}
        rows = []
        for frame in item:
            outputs = runner(**{input_name: frame[np.newaxis]}, **carried)
            carried = {name: outputs[name] for name in states}
            rows.append(outputs["probabilities"][0])
        results.append(np.stack(rows))
    return np.stack(results)


def main(staging: str, cases: str) -> int:
    plan = json.loads((pathlib.Path(cases) / "plan.json").read_text())
    inputs = np.load(pathlib.Path(cases) / "inputs.npz")["inputs"]
    for precision, file_name in plan["files"].items():
        probabilities = run(pathlib.Path(staging) / file_name, inputs, plan["input"], plan["states"])
        np.save(pathlib.Path(cases) / f"{precision}.npy", probabilities)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
