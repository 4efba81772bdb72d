"""The image pipeline's config: data, model and training settings, and the presets.

make train-image                      # embedded shapes, ~3 min on 2 cores, test accuracy ≈ 0.99
make train-image PRESET=tiny          # seconds; smoke test
"""

from __future__ import annotations

import dataclasses

from common import config as config_lib
from common.errors import UserError
from pipelines.configs import shared
from pipelines.datasets import checks, groups


@dataclasses.dataclass(frozen=True)
class ImageDataConfig:
    dataset: str = dataclasses.field(default="", metadata={"help": "'' (embedded shapes), tfds:NAME or a folder"})
    group_pattern: str = shared.group_pattern_field()
    split_files: str = shared.split_files_field()
    augment: bool = dataclasses.field(default=True, metadata={"help": "random horizontal flips in training"})
    max_train_examples: int = dataclasses.field(default=0, metadata={"help": "cap on training examples; 0 = all"})


@dataclasses.dataclass(frozen=True)
class ImageModelConfig:
    """What ``models.cnn.build_image_classifier`` reads."""

    image_size: int = dataclasses.field(default=48, metadata={"help": "model input height and width"})
    filters: tuple[int, ...] = dataclasses.field(default=(16, 32, 64), metadata={"help": "channels per conv block"})
    convs_per_block: int = 1
    dense_units: int = 64
    dropout: float = 0.1
    head: str = dataclasses.field(default="flatten", metadata={"help": "flatten (keeps position) or global_average"})
    pooling: str = dataclasses.field(default="max", metadata={"help": "max, or none (strided convolutions)"})


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    """Every setting of the image pipeline (presets below; override with --setting or --set)."""

    data: ImageDataConfig = ImageDataConfig()
    model: ImageModelConfig = ImageModelConfig()
    training: shared.TrainingConfig = shared.TrainingConfig(epochs=20, batch_size=32, learning_rate=1e-3, patience=5)
    seed: int = 0

    def validate(self) -> None:
        groups.check_pattern(self.data.group_pattern)
        model = self.model
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
        self.training.check()
        checks.check_folder_dataset(self.data.dataset, "image")  # after the settings, before TensorFlow loads
        checks.check_tfds_name(self.data.dataset)


PRESETS = {
    "default": ImageConfig(),
    # A run of well under a minute for smoke tests: 3,000 examples, six epochs, no regularisation
    # (the shapes need a few hundred steps before the loss leaves ln(6)).
    "tiny": config_lib.replace(
        ImageConfig(), dense_units=64, dropout=0.0, augment=False, epochs=6, max_train_examples=3000, patience=10
    ),
}
