"""A worker process of the local library job: Beam's SDK harness, with the project's log lines.

The library job (``serving.classify.library_job``) starts its local worker processes with
``python -m serving.classify.library_worker`` rather than Beam's own
``apache_beam.runners.worker.sdk_worker_main``, only to set logging up before Beam is imported:

- warnings and errors go to stderr as ``HH:MM:SS WARNING message``, Beam's INFO set-up chatter
  (channels, options, "Python sdk harness starting") does not;
- ``common.quiet`` drops Beam's import-time notice about BigQuery's missing client (apitools);
- the harness's own logger (``apache_beam.runners.worker.sdk_worker_main``) shows errors only: its
  warnings are about a pickled main session, which this job never uses ("No semi_persistent_directory
  found"). The options it reads come from the launcher, which refuses unknown ones, and hold only
  those set there, so the harness has none to discard ("Discarding unparseable args").

Then it runs Beam's harness unchanged. On Dataflow, Flink or Spark the runner's own harness runs.
"""

from __future__ import annotations

import logging
import sys

from common import quiet  # noqa: F401 - drops Beam's import-time apitools notice; native libraries' log levels

HARNESS_LOGGER = "apache_beam.runners.worker.sdk_worker_main"


def main() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)  # the harness sets the root logger to INFO; its INFO lines stay off stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"))
    logging.getLogger().addHandler(handler)
    logging.getLogger(HARNESS_LOGGER).setLevel(logging.ERROR)
    from apache_beam.runners.worker import sdk_worker_main  # deferred: Beam is imported after the set-up above

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
