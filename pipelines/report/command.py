"""``make report`` / ``python -m pipelines.report``: parse, check the budgets, run the sections, check the page."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common import cli, quiet
from common import config as config_lib
from pipelines.configs.report import PRESETS, ReportConfig

DESCRIPTION = "`make report`: the ideas behind the models, measured on our own runs and pictured."


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.config_parser("python -m pipelines.report", DESCRIPTION, ReportConfig, PRESETS)
    parser.add_argument("--runs-dir", default="runs", help="where the runs and runs/report/ are written")
    args = parser.parse_args(argv)
    config = config_lib.resolve(PRESETS, args.preset, cli.overrides_from(args))
    quiet.import_tensorflow()  # after the config is checked: bad settings fail before TensorFlow loads
    # Deferred: the sections import TensorFlow and the pipelines.
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
