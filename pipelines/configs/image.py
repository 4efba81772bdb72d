"""The image pipeline's config: data, model and training settings, the automatic values, and the presets.

make train-image                      # embedded shapes, small CNN, ~3 min on 2 cores, test accuracy ≈ 0.99
make train-image PRESET=tiny          # seconds; smoke test
make train-image DATASET=../shared/data/images/cats_dogs   # MobileNetV2 (ImageNet) when its weights can
                                      # be had: frozen, then its top fine-tuned; ≈ 4 min, test ≈ 0.99

Settings whose value 0 or ``auto`` means "choose for me" (``encoder``, ``encoder_weights``,
``image_size``, ``epochs``) are filled in by :meth:`ImageConfig.resolved`; a run saves and exports the
resolved config.
"""

from __future__ import annotations

import dataclasses

from common import config as config_lib
from common.errors import UserError
from models import backbones
from pipelines.configs import pretrained, shared
from pipelines.datasets import checks, groups

ENCODERS = ("auto", "small_cnn", *backbones.BACKBONES)
SMALL_CNN_SIZE = 48


@dataclasses.dataclass(frozen=True)
class ImageDataConfig:
    dataset: str = dataclasses.field(default="", metadata={"help": "'' (embedded shapes), tfds:NAME or a folder"})
    group_pattern: str = shared.group_pattern_field()
    split_files: str = shared.split_files_field()
    augment: bool = dataclasses.field(
        default=True,
        metadata={"help": "augment training images: flips; with a backbone also crops, brightness and contrast"},
    )
    crop_scale: float = dataclasses.field(
        default=0.8, metadata={"help": "backbones: smallest random crop, as a fraction of the side"}
    )
    brightness: float = dataclasses.field(default=0.2, metadata={"help": "backbones: random brightness change"})
    contrast: float = dataclasses.field(default=0.2, metadata={"help": "backbones: random contrast change"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training examples; 0 = all"})


@dataclasses.dataclass(frozen=True)
class ImageModelConfig:
    """What ``models.cnn.build_image_classifier`` reads (resolved: no ``auto`` left)."""

    encoder: str = dataclasses.field(
        default="auto",
        metadata={
            "help": f"small_cnn or a keras.applications backbone ({', '.join(backbones.BACKBONES)}); auto = "
            f"{pretrained.AUTO_BACKBONE} with ImageNet weights for folders and tfds when they are cached or "
            "downloadable, else small_cnn"
        },
    )
    encoder_weights: str = dataclasses.field(
        default="auto", metadata={"help": "imagenet, a weights file, or none; auto = imagenet for a backbone"}
    )
    image_size: int = dataclasses.field(
        default=0, metadata={"help": f"model input height and width; 0 = {SMALL_CNN_SIZE} (small CNN), 224 (backbones)"}
    )
    filters: tuple[int, ...] = dataclasses.field(
        default=(16, 32, 64), metadata={"help": "small CNN: channels per conv block"}
    )
    convs_per_block: int = 1
    dense_units: int = 64
    dropout: float = 0.1
    head: str = dataclasses.field(default="flatten", metadata={"help": "flatten (keeps position) or global_average"})
    pooling: str = dataclasses.field(default="max", metadata={"help": "max, or none (strided convolutions)"})
    fine_tune_fraction: float = dataclasses.field(
        default=0.3, metadata={"help": "backbones: the share of its layers, from the top, fine-tuned; 0 = head only"}
    )


@dataclasses.dataclass(frozen=True)
class ImageTrainingConfig(shared.TrainingConfig):
    epochs: int = dataclasses.field(
        default=0, metadata={"help": "0 = 20 for the small CNN; backbones: fine-tuning epochs, 0 = 5"}
    )
    frozen_epochs: int = dataclasses.field(
        default=30, metadata={"help": "backbones: most epochs of the new head on the frozen backbone's features"}
    )
    fine_tune_learning_rate: float = dataclasses.field(
        default=1e-4, metadata={"help": "backbones: learning rate while the top of the backbone is fine-tuned"}
    )


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    """Every setting of the image pipeline (presets below; override with --setting or --set)."""

    data: ImageDataConfig = ImageDataConfig()
    model: ImageModelConfig = ImageModelConfig()
    training: ImageTrainingConfig = ImageTrainingConfig(epochs=0, batch_size=32, learning_rate=1e-3, patience=5)
    seed: int = 0

    @property
    def backbone(self) -> backbones.Backbone | None:
        """The backbone of a resolved config (None: the small CNN)."""
        return backbones.BACKBONES.get(self.model.encoder)

    def resolved(self) -> ImageConfig:
        """The config with its automatic values filled in (what a run saves and exports).

        ``auto`` asks Keras's cache and the download host once per process
        (:func:`pipelines.configs.pretrained.choose_auto_encoder`); its choice is saved with the run.
        """
        model = self.model
        default_size = backbones.BACKBONES[pretrained.AUTO_BACKBONE].default_size
        encoder, weights = pretrained.resolve_encoder(
            model.encoder, model.encoder_weights, self.data.dataset, model.image_size or default_size
        )
        backbone = backbones.BACKBONES.get(encoder)
        size = model.image_size or (backbone.default_size if backbone else SMALL_CNN_SIZE)
        epochs = self.training.epochs or (5 if backbone else 20)
        return config_lib.replace(self, encoder=encoder, encoder_weights=weights, image_size=size, epochs=epochs)

    def validate(self) -> None:
        if self.model.encoder not in ENCODERS:
            raise UserError(f"encoder must be one of {', '.join(ENCODERS)}, got '{self.model.encoder}'")
        groups.check_pattern(self.data.group_pattern)
        resolved = self.resolved()
        model, data = resolved.model, resolved.data
        if resolved.backbone:
            if model.image_size < resolved.backbone.smallest:
                raise UserError(f"{model.encoder} needs image_size >= {resolved.backbone.smallest}")
            if not 0 <= model.fine_tune_fraction <= 1:
                raise UserError(f"fine_tune_fraction must be in [0, 1], got {model.fine_tune_fraction}")
            if not 0.1 <= data.crop_scale <= 1 or data.brightness < 0 or not 0 <= data.contrast < 1:
                raise UserError("crop_scale must be in [0.1, 1], brightness >= 0 and contrast in [0, 1)")
        else:
            if model.image_size < 8:
                raise UserError("image_size must be at least 8")
            if not model.filters or any(f <= 0 for f in model.filters):
                raise UserError("filters must be a comma-separated list of positive integers, e.g. 32,64,128")
            if model.image_size >> len(model.filters) < 1:
                raise UserError(f"image_size {model.image_size} is too small for {len(model.filters)} pooling blocks")
            if model.head not in ("flatten", "global_average"):
                raise UserError("head must be flatten or global_average")
            if model.pooling not in ("max", "none"):
                raise UserError("pooling must be max or none")
        resolved.training.check()
        pretrained.check(model.encoder, model.encoder_weights, model.image_size, asked=self.model)
        checks.check_folder_dataset(data.dataset, "image")  # after the settings, before TensorFlow loads
        checks.check_tfds_name(data.dataset)


PRESETS = {
    "default": ImageConfig(),
    # A run of well under a minute for smoke tests: 3,000 examples, six epochs, no regularisation
    # (the shapes need a few hundred steps before the loss leaves ln(6)).
    # The small CNN whatever the data (a smoke test must not depend on what Keras's cache holds).
    "tiny": config_lib.replace(
        ImageConfig(),
        encoder="small_cnn",
        dense_units=64,
        dropout=0.0,
        augment=False,
        epochs=6,
        max_train_examples=3000,
        patience=10,
    ),
}
