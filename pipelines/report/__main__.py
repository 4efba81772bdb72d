"""``python -m pipelines.report``: see :mod:`pipelines.report`."""

import sys

from common import cli
from pipelines.report.command import main

sys.exit(cli.run(main))
