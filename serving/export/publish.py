"""Publishing SavedModels in the layout TF Serving reads.

```
export/models.config        # model_config_list, one entry per model present
export/<name>/<version>/    # saved_model.pb, variables/, assets/, assets.extra/
```

A version is written to a hidden sibling (``export/<name>/.tmp-...``, which TF Serving ignores
because its name is not an integer), completed, then renamed into place: the server never sees
a half-written version. Versions are positive integers, strictly increasing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from common import quiet  # noqa: F401 - its log levels reach the fresh process through the environment
from serving.export import layout

FRESH_CHECK_SCRIPT = pathlib.Path(__file__).with_name("fresh_check.py")






@contextlib.contextmanager
def _locked(export_root: pathlib.Path) -> Iterator[None]:
    """Serialises publishers, so two exports never take the same version number."""
    export_root.mkdir(parents=True, exist_ok=True)
    with open(export_root / ".publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fsync_tree(root: pathlib.Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def publish(
    export_root: str | pathlib.Path,
    name: str,
    write: Callable[[pathlib.Path], None],
    extra_files: dict[str, str] | None = None,
    warmup_requests: list[tuple[str, dict[str, np.ndarray]]] | None = None,
    check: Callable[[pathlib.Path], Any] | None = None,
) -> pathlib.Path:
    """Writes a new version of model ``name`` and moves it into place atomically.

    Args:
        export_root: the TF Serving base directory (``export/``).
        name: model name (``image``, ``text``, ``video``, ...).
        write: writes the SavedModel into the directory it is given.
        extra_files: ``{file name: text}`` written to ``assets.extra/`` (config, class list).
        warmup_requests: ``[(signature, {input: array})]`` recorded as TF Serving warm-up
            requests in ``assets.extra/tf_serving_warmup_requests``.
        check: called with the complete staging directory before it is moved into place
            (e.g. :func:`check_in_fresh_process`); if it raises, nothing is published.

    Returns:
        The published version directory ``export/<name>/<version>``.
    """
    export_root = pathlib.Path(export_root)
    model_dir = export_root / name
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_dir))
    try:
        write(staging)
        extra = staging / "assets.extra"
        extra.mkdir(exist_ok=True)
        for file_name, text in (extra_files or {}).items():
            (extra / file_name).write_text(text, encoding="utf-8")
        if warmup_requests:
            _write_warmup(staging, warmup_requests)
        if check is not None:
            check(staging)
        _fsync_tree(staging)
        with _locked(export_root):
            existing = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()]
            version = max(existing, default=0) + 1
            target = model_dir / str(version)
            os.chmod(staging, 0o755)
            os.rename(staging, target)
            layout.write_models_config(export_root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logging.info("published %s", target)
    return target


def publish_as_version(
    export_root: str | pathlib.Path, name: str, version: int, write: Callable[[pathlib.Path], None]
) -> pathlib.Path:
    """Writes ``export/<name>/<version>/`` for a version number chosen by the caller (the LiteRT files
    of SavedModel version ``version``): staged in a hidden sibling by ``write``, then renamed into
    place. An existing version of that number (an earlier conversion) is first moved aside, then
    removed: a reader sees the old files or the new ones, or for an instant none, never a mixture."""
    model_dir = pathlib.Path(export_root) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_dir))
    target = model_dir / str(version)
    try:
        write(staging)
        _fsync_tree(staging)
        with _locked(pathlib.Path(export_root)):
            os.chmod(staging, 0o755)
            if target.exists():
                retired = pathlib.Path(tempfile.mkdtemp(prefix=".old-", dir=model_dir))
                os.rename(target, retired / "version")
                os.rename(staging, target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logging.info("published %s", target)
    return target


def publish_checked(
    export_root: str | pathlib.Path,
    name: str,
    write: Callable[[pathlib.Path], None],
    config: dict[str, Any],
    cases: list[dict],
    warmup_requests: list[tuple[str, dict[str, np.ndarray]]],
    class_names: list[str] | None = None,
    extra_files: dict[str, str] | None = None,
) -> tuple[pathlib.Path, dict[str, float]]:
    """:func:`publish` as every pipeline does it: ``config.json`` (and ``classes.txt`` when
    ``class_names`` are given) in ``assets.extra/``, and the staged export reloaded in a fresh
    process and checked against ``cases`` (:func:`check_in_fresh_process`) before it goes live, so
    a bad export is never published. Returns the version directory and the check's differences."""
    files = {"config.json": json.dumps(config, indent=2, ensure_ascii=False)}
    if class_names is not None:
        files["classes.txt"] = "\n".join(class_names) + "\n"
    files.update(extra_files or {})
    differences: dict[str, float] = {}
    version_dir = publish(
        export_root,
        name,
        write,
        extra_files=files,
        warmup_requests=warmup_requests,
        check=lambda staging: differences.update(check_in_fresh_process(staging, cases)),
    )
    return version_dir, differences


def _write_warmup(staging: pathlib.Path, requests: list) -> None:
    try:
        from serving.export import warmup
    except ImportError:  # pragma: no cover - the warm-up writer is optional
        logging.warning("serving.warmup unavailable: no TF Serving warm-up requests written")
        return
    warmup.write_warmup_requests(staging, requests)




def check_in_fresh_process(
    version_dir: pathlib.Path,
    cases: list[dict[str, Any]],
) -> dict[str, float]:
    """Reloads the export in a new Python process that imports only TensorFlow and NumPy.

    Args:
        version_dir: the published SavedModel.
        cases: ``{"signature": str, "inputs": {name: array}, "expected": {name: array},
            "atol": float}``; string outputs are compared exactly. An optional ``"chain": [name]``
            feeds those inputs from the previous case's outputs of the same name (a recurrent
            state carried from chunk to chunk).

    Returns:
        ``{signature: max absolute difference}``.

    Raises:
        RuntimeError: when the reloaded model disagrees with the live one or cannot be called.
    """
    with tempfile.TemporaryDirectory() as scratch:
        arrays, plan = {}, []
        for index, case in enumerate(cases):
            for key, value in case["inputs"].items():
                arrays[f"{index}/in/{key}"] = np.asarray(value)
            for key, value in case["expected"].items():
                arrays[f"{index}/out/{key}"] = np.asarray(value)
            plan.append(
                {"signature": case["signature"], "atol": case.get("atol", 1e-5), "chain": case.get("chain", [])}
            )
        np.savez(pathlib.Path(scratch) / "cases.npz", **arrays)
        (pathlib.Path(scratch) / "plan.json").write_text(json.dumps(plan))
        result = subprocess.run(
            [sys.executable, "-I", str(FRESH_CHECK_SCRIPT), str(version_dir), scratch],
            capture_output=True,
            text=True,
            timeout=600,
        )
    report_line = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not report_line.startswith("{"):
        raise RuntimeError(f"fresh-process check of {version_dir} failed: {report_line or result.stderr[-2000:]}")
    return json.loads(report_line)
