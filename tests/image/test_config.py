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
