"""The video pipeline's config: data, model and training settings, the automatic values, and the presets.

make train-video                      # embedded moving shapes, ≈4 min on 2 cores
make train-video PRESET=tiny          # well under a minute; smoke test

Settings whose value 0 or ``auto`` means "choose for me" (``frame_size``, ``filters``, ``color``,
``epochs``, ``patience``) are filled in by :meth:`VideoConfig.resolved`; a run saves, exports and
rebuilds its models from the resolved config, never from the preset.
"""

from __future__ import annotations

import dataclasses

from common import config as config_lib
from common.errors import UserError
from models import backbones, frame_encoders
from models.cells import VIDEO_CELLS
from pipelines.configs import pretrained, shared
from pipelines.datasets import checks, groups


@dataclasses.dataclass(frozen=True)
class VideoDataConfig:
    dataset: str = dataclasses.field(
        default="", metadata={"help": "'' (embedded moving shapes), tfds:NAME or a folder of class folders of videos"}
    )
    group_pattern: str = shared.group_pattern_field()
    split_files: str = shared.split_files_field()
    num_frames: int = dataclasses.field(default=16, metadata={"help": "frames per training clip"})
    frame_stride: int = dataclasses.field(default=1, metadata={"help": "sample every Nth frame of a video file"})
    min_clips_per_epoch: int = dataclasses.field(
        default=512, metadata={"help": "folders: an epoch repeats the training videos' clips up to this many"}
    )
    augment: str = dataclasses.field(
        default="auto", metadata={"help": "on, off, or auto (on for folders and tfds, off for the embedded data)"}
    )
    flip: bool = dataclasses.field(default=False, metadata={"help": "random horizontal flips (left becomes right)"})
    crop_scale: float = dataclasses.field(default=0.8, metadata={"help": "smallest random crop, as a fraction"})
    brightness: float = 0.2
    contrast: float = 0.3
    cache_dir: str = dataclasses.field(default="", metadata={"help": "decoded-frame cache; '' = data/video_cache"})
    cache_max_gb: float = dataclasses.field(default=4.0, metadata={"help": "bound of the decoded-frame cache"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training clips; 0 = all"})
    max_eval_examples: int = dataclasses.field(
        default=0, metadata={"help": "cap on validation and test clips each; 0 = all"}
    )


@dataclasses.dataclass(frozen=True)
class VideoModelConfig:
    """What ``models.video_cnn_rnn`` and ``models.frame_encoders`` read."""

    frame_size: int = dataclasses.field(
        default=0,
        metadata={"help": "model frame height and width; 0 = 32 for the embedded clips, 16 for folders and tfds"},
    )
    encoder: str = dataclasses.field(
        default="auto",
        metadata={
            "help": f"frame encoder: small_cnn or a keras.applications backbone ({', '.join(backbones.BACKBONES)}); "
            f"auto = {pretrained.AUTO_BACKBONE} with ImageNet weights for folders and tfds when they are cached or "
            "downloadable (README: Video on real footage), else small_cnn"
        },
    )
    encoder_weights: str = dataclasses.field(
        default="auto",
        metadata={"help": "imagenet, a weights file, an image run folder, or none; auto = imagenet for a backbone"},
    )
    filters: tuple[int, ...] = dataclasses.field(
        default=(), metadata={"help": "channels per conv block; empty = 16, 32, ... down to a 4x4 map"}
    )
    convs_per_block: int = 1
    dense_units: int = dataclasses.field(default=64, metadata={"help": "frame feature size"})
    dropout: float = 0.2
    cell: str = dataclasses.field(default="lstm", metadata={"help": "lstm or gru"})
    units: int = dataclasses.field(default=64, metadata={"help": "recurrent units"})
    feature_difference: bool = dataclasses.field(
        default=True, metadata={"help": "also feed the recurrent layer each frame's feature change since the last"}
    )
    pixel_difference: bool = dataclasses.field(
        default=True,
        metadata={"help": "small_cnn: the CNN also sees each frame's change since the last (backbones: off)"},
    )
    fine_tune_fraction: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "backbones: the share of its layers, from the top, fine-tuned for --epochs after the frozen "
            "phase; 0 = none (on weizmann4 it did not help: README)"
        },
    )
    color: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "on (RGB) or off (grey in three channels: a recording's background colour cannot stand in for "
            "the action); auto = off for folders and tfds, on for the embedded clips and an image run's CNN"
        },
    )


@dataclasses.dataclass(frozen=True)
class VideoTrainingConfig(shared.TrainingConfig):
    epochs: int = dataclasses.field(
        default=0,
        metadata={
            "help": "0 = 10 for the embedded clips, 30 for folders and tfds; backbones: fine-tuning epochs, 0 = 3"
        },
    )
    learning_rate: float = 2e-3
    patience: int = dataclasses.field(
        default=0,
        metadata={
            "help": "early-stopping patience in epochs; 0 = 5 for the embedded clips, none for folders and tfds "
            "(the best validation epoch is kept either way)"
        },
    )
    baseline_epochs: int = dataclasses.field(
        default=2,
        metadata={
            "help": "epochs of the frame-only baseline (it stays at chance: one frame cannot show motion); 0 = skip"
        },
    )
    frozen_epochs: int = dataclasses.field(
        default=0,
        metadata={
            "help": "with pretrained encoder weights: epochs with it frozen first; 0 = 3 for an image run's CNN, "
            "for a backbone 30 for folders and tfds, 10 for the embedded clips (its maps cached: seconds an epoch)"
        },
    )
    fine_tune_learning_rate: float = dataclasses.field(
        default=2e-4, metadata={"help": "learning rate once a pretrained encoder is unfrozen"}
    )


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Every setting of the video pipeline (presets below; override with --setting or --set)."""

    data: VideoDataConfig = VideoDataConfig()
    model: VideoModelConfig = VideoModelConfig()
    training: VideoTrainingConfig = VideoTrainingConfig()
    seed: int = 0

    def resolved(self) -> VideoConfig:
        """The config with its automatic values filled in (what a run saves and exports).

        Frame size: real footage is usually a small dataset, and on it the CNN learns the people
        and places at 32x32 but the motion at 16x16 (measured on weizmann4, people never seen:
        README, "Video on real footage"); the embedded shapes are too small for 16x16.
        Filters: one block per halving down to a 4x4 map, starting at 16 channels.
        Colour: off (grey) for real footage with the small CNN. Each action of a person tends to be
        recorded at its own time and place, and in colour the CNN learns the background instead
        of the motion: on weizmann4, people never seen, grey took the hybrid from 0.85 to 0.95
        per video, the mean of three runs (README, "Video on real footage").
        Epochs and patience: a folder's validation split is a few people, and its loss jumps from
        epoch to epoch (x2 up and down is common before it settles), so early stopping on it stops
        near the start. Folders and tfds train 30 epochs with no early stop, keeping the epoch of
        best validation loss (grey frames on weizmann4, one seed: 0.92 per video stopping, 0.98 not).
        """
        data, model, training = self.data, self.model, self.training
        default_size = backbones.BACKBONES[pretrained.AUTO_BACKBONE].frame_size
        encoder, weights = pretrained.resolve_encoder(
            model.encoder, model.encoder_weights, data.dataset, model.frame_size or default_size, video=True
        )
        frame_size = model.frame_size
        if not frame_size:
            backbone = backbones.BACKBONES.get(encoder)
            frame_size = backbone.frame_size if backbone else (32 if not data.dataset else 16)
        filters = model.filters or tuple(16 * 2**block for block in range(max(1, frame_size.bit_length() - 3)))
        small_cnn = encoder == "small_cnn"
        color = model.color
        if color == "auto":  # an image run's CNN was learnt on RGB
            color = "off" if data.dataset and (weights == "none" or not small_cnn) else "on"
        main_epochs = 30 if data.dataset else 10
        backbone_weights = not small_cnn and weights != "none"
        epochs = training.epochs or (3 if backbone_weights else main_epochs)
        frozen_epochs = training.frozen_epochs or (main_epochs if backbone_weights else 3)
        return config_lib.replace(
            self,
            encoder=encoder,
            encoder_weights=weights,
            frame_size=frame_size,
            filters=filters,
            pixel_difference=model.pixel_difference and small_cnn,  # a backbone takes 3 channels
            color=color,
            epochs=epochs,
            frozen_epochs=frozen_epochs,
            patience=training.patience or (epochs if data.dataset else 5),
        )

    @property
    def augmented(self) -> bool:
        """Whether training clips are augmented (``augment=auto``: for folders and tfds, not the embedded data)."""
        return self.data.augment == "on" or (self.data.augment == "auto" and bool(self.data.dataset))

    def validate(self) -> None:
        if self.model.encoder not in ("auto", *frame_encoders.ENCODERS):
            choices = ", ".join(("auto", *frame_encoders.ENCODERS))
            raise UserError(f"encoder must be one of {choices}, got '{self.model.encoder}'")
        groups.check_pattern(self.data.group_pattern)
        resolved = self.resolved()
        data, model, training = resolved.data, resolved.model, resolved.training
        if model.encoder in backbones.BACKBONES:
            backbone = backbones.BACKBONES[model.encoder]
            smallest, suits = backbone.smallest, backbone.frame_size
            if model.frame_size < smallest:
                raise UserError(
                    f"{model.encoder} needs frame_size >= {smallest}; {suits} suits it (--frame-size {suits})"
                )
        if model.color not in ("on", "off"):
            raise UserError(f"color must be auto, on or off, got '{model.color}'")
        if not 0 <= model.fine_tune_fraction <= 1:
            raise UserError(f"fine_tune_fraction must be in [0, 1], got {model.fine_tune_fraction}")
        if data.augment not in ("auto", "on", "off"):
            raise UserError(f"augment must be auto, on or off, got '{data.augment}'")
        if not 0.1 <= data.crop_scale <= 1 or data.brightness < 0 or not 0 <= data.contrast < 1:
            raise UserError("crop_scale must be in [0.1, 1], brightness >= 0 and contrast in [0, 1)")
        if model.cell not in VIDEO_CELLS:
            raise UserError(f"cell must be {' or '.join(VIDEO_CELLS)}, got '{model.cell}'")
        if model.frame_size < 8 or model.frame_size >> len(model.filters) < 1:
            raise UserError(f"frame_size {model.frame_size} is too small for {len(model.filters)} pooling blocks")
        if not model.filters or any(f <= 0 for f in model.filters):
            raise UserError("filters must be a comma-separated list of positive integers, e.g. 16,32,64")
        if data.num_frames < 2 or data.frame_stride < 1:
            raise UserError("num_frames must be at least 2 and frame_stride at least 1")
        if training.epochs < 1 or training.batch_size < 1 or model.units < 1 or training.baseline_epochs < 0:
            raise UserError("epochs, batch_size and units must be positive")
        pretrained.check(model.encoder, model.encoder_weights, model.frame_size, asked=self.model)
        checks.check_folder_dataset(data.dataset, "video")  # after the settings, before TensorFlow loads
        checks.check_tfds_name(data.dataset)


PRESETS = {
    "default": VideoConfig(),
    # A run of seconds for smoke tests: 8-frame clips, narrow layers, 256 clips, one epoch each; the
    # small CNN whatever the data (a smoke test must not depend on what Keras's cache holds).
    "tiny": config_lib.replace(
        VideoConfig(),
        encoder="small_cnn",
        num_frames=8,
        frame_size=16,
        filters=(8, 16),
        dense_units=16,
        units=16,
        epochs=1,
        baseline_epochs=1,
        batch_size=32,
        max_train_examples=256,
        max_eval_examples=128,
        patience=1,
    ),
}
