"""Configs: nested settings with flat names, presets and overrides, typed parsing, unknown keys rejected
loudly, saved and loaded back."""

import dataclasses

import pytest

from common import config
from common.errors import UserError
from pipelines.configs import image, text, textgen, video


def test_overrides_are_parsed_into_field_types():
    resolved = config.resolve(image.PRESETS, "default", {"filters": "8,16", "epochs": "3", "augment": "false"})
    assert resolved.model.filters == (8, 16) and resolved.training.epochs == 3 and resolved.data.augment is False


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


@pytest.mark.parametrize("config_class", [image.ImageConfig, text.TextConfig, textgen.TextGenConfig, video.VideoConfig])
def test_every_setting_has_one_flat_name_and_round_trips_through_json(config_class, tmp_path):
    settings = config.settings(config_class)  # raises when two groups share a name
    assert "seed" in settings and not {"data", "model", "training"} & set(settings)  # groups are no settings
    assert len(settings) > len(dataclasses.fields(config_class))
    changed = config.replace(config_class(), seed=7, batch_size=5)
    assert changed.seed == 7 and changed.training.batch_size == 5
    config.save(changed, tmp_path / "config.json")
    assert config.load(config_class, tmp_path / "config.json") == changed
    with pytest.raises(UserError, match="unknown config key 'epoch'"):
        config.replace(config_class(), epoch=3)


def test_two_settings_with_one_name_are_refused():
    @dataclasses.dataclass(frozen=True)
    class Group:
        epochs: int = 1

    @dataclasses.dataclass(frozen=True)
    class Clashing:
        training: Group = Group()
        epochs: int = 2

    with pytest.raises(TypeError, match="two settings are named 'epochs'"):
        config.settings(Clashing)
