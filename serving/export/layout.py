"""The export layout TF Serving reads, and the versions in it.

```
export/models.config        # model_config_list, one entry per model present
export/<name>/<version>/    # saved_model.pb, variables/, assets/, assets.extra/
```

A version is complete when its ``saved_model.pb`` is there (:mod:`serving.export.publish` renames a
finished version into place); readers (the classifiers, the development server, ``make generate``)
find the latest one here. Needs no TensorFlow.
"""

from __future__ import annotations

import os
import pathlib
import tempfile


def versions(model_dir: pathlib.Path) -> list[int]:
    """The complete numeric versions under ``export/<name>/``, ascending."""
    if not model_dir.is_dir():
        return []
    found = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists()]
    return sorted(found)


def latest_version_dir(export_root: str | pathlib.Path, name: str) -> pathlib.Path | None:
    model_dir = pathlib.Path(export_root) / name
    found = versions(model_dir)
    return model_dir / str(found[-1]) if found else None


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
