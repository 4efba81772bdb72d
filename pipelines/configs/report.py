"""The budgets of every experiment in ``make report``, and the presets.

make report                     # all five sections, reduced training budgets (about 5 minutes on 2 cores)
make report PRESET=tiny         # seconds per section; smoke test (numbers near chance, said so)
"""

from __future__ import annotations

import dataclasses

from common.errors import UserError

SECTIONS = (1, 2, 3, 4, 5)


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """The budgets of every experiment in the report (presets below; override with --field or --set)."""

    sections: tuple[int, ...] = dataclasses.field(default=SECTIONS, metadata={"help": "which sections to run"})
    pipeline_preset: str = dataclasses.field(
        default="default", metadata={"help": "the pipelines' preset whose models the report trains"}
    )
    seed: int = 0
    # 1. convolution: an image run on the embedded shapes.
    image_epochs: int = 10
    image_train_examples: int = 6000
    photo: str = dataclasses.field(
        default="", metadata={"help": "a photo or video file for section 1; '' = a frame of ../shared/data/videos"}
    )
    # 2. pooling and position: two image runs on centred shapes, tested shifted.
    shift_images_per_class: int = 400
    shift_epochs: int = 8
    shift_jitter: int = dataclasses.field(default=2, metadata={"help": "pixels of centre jitter in training"})
    shifts: tuple[int, ...] = dataclasses.field(default=(0, 2, 4, 6, 8, 10, 12), metadata={"help": "test shifts"})
    shift_test_images: int = dataclasses.field(default=600, metadata={"help": "test images per shift"})
    shift_heads: tuple[str, ...] = dataclasses.field(
        default=("flatten", "global_average"), metadata={"help": "heads to compare pooling under"}
    )
    # 3. memory over distance: pipelines.compare_rnn.
    compare_distances: tuple[int, ...] = (5, 20, 80)
    compare_cells: tuple[str, ...] = dataclasses.field(
        default=("simple_rnn", "lstm", "gru"), metadata={"help": "cells to compare, among simple_rnn, lstm, gru"}
    )
    compare_epochs: int = 6
    compare_train_examples: int = 3000
    # 4. GRU vs LSTM step times.
    timing_steps: int = dataclasses.field(default=10, metadata={"help": "timed steps per model and mode"})
    timing_batch_size: int = 32
    # 5. video: a video run and a long generated video.
    video_epochs: int = 6
    video_baseline_epochs: int = 3
    video_train_examples: int = 1600
    video_eval_examples: int = 400
    long_video_segments: int = 8

    def validate(self) -> None:
        if not self.sections or any(s not in SECTIONS for s in self.sections):
            raise UserError(f"sections must be among {', '.join(map(str, SECTIONS))}, e.g. --sections 1,3")
        if self.pipeline_preset not in ("default", "tiny"):
            raise UserError("pipeline_preset must be default or tiny")
        if not self.shifts or min(self.shifts) < 0 or self.shifts[0] != 0:
            raise UserError("shifts must start at 0 and be non-negative, e.g. 0,4,8,12")
        if not self.shift_heads or any(h not in ("flatten", "global_average") for h in self.shift_heads):
            raise UserError("shift_heads must be among flatten, global_average")
        if not self.compare_cells or any(c not in ("simple_rnn", "lstm", "gru") for c in self.compare_cells):
            raise UserError("compare_cells must be among simple_rnn, lstm, gru")
        if self.shift_images_per_class < 10 or self.shift_test_images < 6:
            raise UserError("shift_images_per_class must be at least 10 and shift_test_images at least 6")
        if min(self.image_epochs, self.shift_epochs, self.compare_epochs, self.video_epochs) < 1:
            raise UserError("epochs must be positive")
        if self.timing_steps < 2 or self.timing_batch_size < 1 or self.long_video_segments < 2:
            raise UserError("timing_steps and long_video_segments must be at least 2, timing_batch_size positive")


PRESETS = {
    # ≈ 15 min on 2 busy cores (README has the measured time); every budget is stated in the report.
    "default": ReportConfig(),
    # Seconds per section, for the end-to-end test: the pipelines' tiny models on a few hundred examples,
    # one head in section 2 and two cells in section 3 (every step of each section still runs).
    "tiny": ReportConfig(
        pipeline_preset="tiny",
        image_epochs=1,
        image_train_examples=300,
        shift_images_per_class=30,
        shift_epochs=1,
        shifts=(0, 6, 12),
        shift_test_images=60,
        shift_heads=("flatten",),
        compare_distances=(5,),
        compare_cells=("simple_rnn", "gru"),
        compare_epochs=1,
        compare_train_examples=200,
        timing_steps=2,
        timing_batch_size=8,
        video_epochs=1,
        video_baseline_epochs=1,
        video_train_examples=64,
        video_eval_examples=32,
        long_video_segments=2,
    ),
}
