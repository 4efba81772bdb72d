"""The export layout TF Serving reads, and the versions in it.

```
export/models.config        # model_config_list, one entry per model present
export/<name>/<version>/    # saved_model.pb, variables/, assets/, assets.extra/
export/<name>_lite/<version>/   # model_float32/float16/int8.tflite, classes.txt, metadata.json (make export-lite)
```

A version is complete when its ``saved_model.pb`` is there (:mod:`serving.export.publish` renames a
finished version into place); readers (the classifiers, the development server, ``make generate``)
find the latest one here. A LiteRT version carries the number of the SavedModel it was converted
from and is complete when its ``metadata.json`` is there; TF Serving and the development server skip
those folders (no ``saved_model.pb``). Needs no TensorFlow.
"""

from __future__ import annotations

import os
import pathlib
import tempfile


LITE_SUFFIX = "_lite"  # export/<name>_lite/: the LiteRT files of export/<name>/
LITE_COMPLETE = "metadata.json"  # written last into a LiteRT version


def versions(model_dir: pathlib.Path, marker: str = "saved_model.pb") -> list[int]:
    """The complete numeric versions under ``export/<name>/`` (those holding ``marker``), ascending."""
    if not model_dir.is_dir():
        return []
    found = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p / marker).exists()]
    return sorted(found)


def latest_version_dir(export_root: str | pathlib.Path, name: str) -> pathlib.Path | None:
    model_dir = pathlib.Path(export_root) / name
    found = versions(model_dir)
    return model_dir / str(found[-1]) if found else None


def lite_dir(export_root: str | pathlib.Path, name: str) -> pathlib.Path:
    """``export/<name>_lite/``: where ``make export-lite`` writes the LiteRT versions of model ``name``."""
    return pathlib.Path(export_root) / f"{name}{LITE_SUFFIX}"


def latest_lite_version_dir(export_root: str | pathlib.Path, name: str) -> pathlib.Path | None:
    """The newest complete ``export/<name>_lite/<version>/`` (None if there is none)."""
    found = versions(lite_dir(export_root, name), LITE_COMPLETE)
    return lite_dir(export_root, name) / str(found[-1]) if found else None


def write_models_config(export_root: str | pathlib.Path) -> pathlib.Path:
    """Rewrites ``export/models.config`` (TF Serving ``model_config_list``) for the models present."""
    export_root = pathlib.Path(export_root).resolve()
    entries = []
    for model_dir in sorted(p for p in export_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if versions(model_dir):
            entries.append(
                "  config {\n"
                f"    name: '{model_dir.name}'\n"
                f"    base_path: '{model_dir}'\n"
                "    model_platform: 'tensorflow'\n"
                "    model_version_policy { latest { num_versions: 1 } }\n"
                "  }\n"
            )
    text = "model_config_list {\n" + "".join(entries) + "}\n"
    path = export_root / "models.config"
    with tempfile.NamedTemporaryFile("w", dir=export_root, delete=False, prefix=".models.config.") as handle:
        handle.write(text)
    os.replace(handle.name, path)
    return path
