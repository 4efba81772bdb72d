"""Reloads a SavedModel with plain TensorFlow and compares its signatures with expected outputs.

Run as a script in a fresh process (``python -I fresh_check.py VERSION_DIR CASES_DIR``): it
imports nothing from the project, which is the point: the export must stand on its own, as it
does in TF Serving. Prints one JSON line ``{signature: max abs difference}``; exit 1 on mismatch.
"""

import json
import pathlib
import sys

import numpy as np
import tensorflow as tf


def main(version_dir: str, cases_dir: str) -> int:
    loaded = tf.saved_model.load(version_dir)
    plan = json.loads((pathlib.Path(cases_dir) / "plan.json").read_text())
    arrays = np.load(pathlib.Path(cases_dir) / "cases.npz", allow_pickle=True)  # our own file: bytes inputs
    report, outputs = {}, {}
    for index, case in enumerate(plan):
        signature = loaded.signatures[case["signature"]]
        inputs = {k.split("/", 2)[2]: tf.constant(arrays[k]) for k in arrays.files if k.startswith(f"{index}/in/")}
        for name in case.get("chain", []):  # e.g. a recurrent state: fed from the previous case's outputs
            inputs[name] = outputs[name]
        outputs = signature(**inputs)
        worst = 0.0
        for key in (k for k in arrays.files if k.startswith(f"{index}/out/")):
            name = key.split("/", 2)[2]
            expected, actual = arrays[key], outputs[name].numpy()
            if expected.shape != actual.shape:
                print(f"{case['signature']}/{name}: shape {actual.shape} != expected {expected.shape}", file=sys.stderr)
                return 1
            if expected.dtype.kind in "SUO":
                if not np.array_equal(expected.astype(bytes), actual.astype(bytes)):
                    print(f"{case['signature']}/{name}: string outputs differ", file=sys.stderr)
                    return 1
                continue
            difference = float(np.max(np.abs(expected.astype(np.float64) - actual))) if expected.size else 0.0
            worst = max(worst, difference)
            if difference > case["atol"]:
                print(f"{case['signature']}/{name}: max difference {difference:.3g} > {case['atol']}", file=sys.stderr)
                return 1
        report[case["signature"]] = max(report.get(case["signature"], 0.0), worst)  # worst over its cases
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
