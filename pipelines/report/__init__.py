"""`make report`: the ideas behind the models, measured on our own runs and pictured.

make report                     # all five sections, reduced training budgets; see README for the runtime
make report PRESET=tiny         # seconds per section; smoke test (numbers near chance, said so)
python -m pipelines.report --sections 2,4 --runs-dir /tmp/runs

Each section is one claim, the measurement that tests it and its picture:

1. convolution finds local patterns, deeper layers combine them (filters, feature maps);
2. pooling makes the model less sensitive to position (accuracy against shift, pooling vs strided convs);
3. an RNN carries memory, LSTM/GRU keep it over long distances (``pipelines.compare_rnn``);
4. GRU is lighter than LSTM (parameters and step times at the same width, text and video models);
5. CNN per frame + RNN across frames understands motion (hybrid vs frame-only, a long-video timeline).

Every experiment is an ordinary run of a pipeline (``runs/image/<ts>``, ``runs/compare_rnn/<ts>``,
``runs/video/<ts>``) or a measurement folder of its own (``runs/position/<ts>``, ``runs/gru_vs_lstm/<ts>``),
linked from the report. The report goes to ``runs/report/<timestamp>/`` (``index.html``, ``report.md``,
``figures/``, ``report.json``); ``runs/report/index.html`` and ``report.md`` are copies that point at the
latest. Nothing is exported to ``export/``: the report trains with reduced budgets, and its models
should not replace the ones being served.

When Chromium is installed, the pages are then opened in it headless without network
(:mod:`pipelines.report.browser_check`): every figure must load, every heading be there and nothing
be fetched from the network, or the command fails. A section whose experiment crashes is written as
such on the page, and the command then fails too (exit 1, one line per section naming its error):
an experiment that crashes is not an inconclusive one.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

from common import cli
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


def build_parser() -> cli.ArgumentParser:
    """``--preset``, ``--set KEY=VALUE``, ``--runs-dir`` and one flag per ReportConfig field."""
    import typing

    parser = cli.ArgumentParser(prog="python -m pipelines.report", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=list(PRESETS), help="named budget preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any field")
    parser.add_argument("--runs-dir", default="runs", help="where the runs and runs/report/ are written")
    fields = parser.add_argument_group("config fields (each overrides the preset)")
    hints = typing.get_type_hints(ReportConfig)
    for field in dataclasses.fields(ReportConfig):
        type_name = getattr(hints[field.name], "__name__", str(hints[field.name]).replace("typing.", ""))
        doc = field.metadata.get("help", "")
        fields.add_argument(
            "--" + field.name.replace("_", "-"),
            dest="field__" + field.name,
            default=None,
            metavar=type_name.upper(),
            help=(f"{doc} " if doc else "") + f"(default: {field.default!r})",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from common import config as config_lib

    config = config_lib.resolve(PRESETS, args.preset, cli.overrides_from(args))
    cli.import_tensorflow_quietly()  # after the config is checked: bad settings fail before TensorFlow loads
    from pipelines.report import build

    report_dir = build.build_report(config, args.runs_dir, preset_name=args.preset)
    print(f"report: {report_dir / 'index.html'} (latest copy: {report_dir.parent / 'index.html'})")
    print(build.check_in_browser(report_dir))  # raises UserError when a figure, heading or offline view is broken
    failed = build.failures(report_dir)
    for line in failed:
        print(f"error: report {line}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} section(s) could not be measured; the page says so", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
