"""Config presets and overrides: typed parsing, unknown keys rejected loudly."""

import pytest

from pipelines import config, image
from pipelines.errors import UserError


def test_overrides_are_parsed_into_field_types():
    resolved = config.resolve(image.PRESETS, "default", {"filters": "8,16", "epochs": "3", "augment": "false"})
    assert resolved.filters == (8, 16) and resolved.epochs == 3 and resolved.augment is False


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"no_such_key": "1"}, "unknown config key 'no_such_key'"),
        ({"epochs": "many"}, "expects int"),
        ({"head": "max"}, "head must be"),
        ({"image_size": "8", "filters": "8,16,32,64"}, "too small"),
    ],
)
def test_bad_overrides_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        config.resolve(image.PRESETS, "default", overrides)


def test_unknown_preset():
    with pytest.raises(UserError, match="unknown preset"):
        config.resolve(image.PRESETS, "huge", {})


def test_fingerprint_is_stable_and_sensitive():
    base = image.PRESETS["default"]
    assert config.fingerprint(base) == config.fingerprint(image.ImageConfig())
    assert config.fingerprint(base) != config.fingerprint(config.apply_overrides(base, {"epochs": "2"}))


def test_missing_or_classless_dataset_folder_fails_before_tensorflow_loads(tmp_path):
    """The image and video commands refuse these in the config's validate(), without TensorFlow's start-up."""
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    (tmp_path / "empty").mkdir()
    script = (
        "import sys\n"
        "from pipelines import cli, image, video\n"
        "codes = [cli.run(m.main, ['--dataset', d]) for m in (image, video) for d in sys.argv[1:]]\n"
        "print(codes, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "missing"), str(tmp_path / "empty")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.stdout.strip() == "[2, 2, 2, 2] False", result.stderr[-2000:]
    errors = result.stderr.splitlines()
    assert len(errors) == 4 and all(line.startswith("error: ") for line in errors), result.stderr
    assert "does not exist" in errors[0] and "no class sub-folders" in errors[1] and "image files" in errors[1]
    assert "does not exist" in errors[2] and "video files" in errors[3]


def test_unknown_tfds_dataset_fails_before_tensorflow_loads(tmp_path):
    """TFDS looks names up without TensorFlow: the image and video commands refuse a typo in validate()."""
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    script = (
        "import sys\n"
        "from pipelines import cli, image, video\n"
        "codes = [cli.run(m.main, ['--dataset', 'tfds:surely_not_a_dataset']) for m in (image, video)]\n"
        "print(codes, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TFDS_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.stdout.strip() == "[2, 2] False", result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and all("unknown TFDS dataset 'surely_not_a_dataset'" in e for e in errors), result.stderr
