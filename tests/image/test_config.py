"""Config presets and overrides: typed parsing, unknown keys rejected loudly."""

import pytest

from common import config
from common.errors import UserError
from pipelines import image


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
    from tests.conftest import refusals_without_tensorflow

    (tmp_path / "empty").mkdir()
    datasets = [str(tmp_path / "missing"), str(tmp_path / "empty")]
    codes, tensorflow_loaded, errors = refusals_without_tensorflow(["image", "video"], datasets)
    assert codes == [2, 2, 2, 2] and not tensorflow_loaded
    assert len(errors) == 4, errors
    assert "does not exist" in errors[0] and "no class sub-folders" in errors[1] and "image files" in errors[1]
    assert "does not exist" in errors[2] and "video files" in errors[3]


def test_unknown_tfds_dataset_fails_before_tensorflow_loads(tmp_path):
    """TFDS looks names up without TensorFlow: the image and video commands refuse a typo in validate()."""
    from tests.conftest import refusals_without_tensorflow

    codes, tensorflow_loaded, errors = refusals_without_tensorflow(
        ["image", "video"], ["tfds:surely_not_a_dataset"], env={"TFDS_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    )
    assert codes == [2, 2] and not tensorflow_loaded
    assert len(errors) == 2 and all("unknown TFDS dataset 'surely_not_a_dataset'" in e for e in errors), errors
