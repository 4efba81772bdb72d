"""Command-line plumbing for every command of the project (a module with ``main(argv)``).

Commands read argv only through this module; library code takes typed configs. Every setting of a
config becomes a ``--flag`` (grouped by the config's groups in ``--help``); ``--set key=value``
overrides any setting too. Bad input ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import typing
from collections.abc import Callable, Sequence

from common import config as config_lib
from common import quiet  # noqa: F401 - sets the native libraries' log levels before anything imports them
from common.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")


def config_parser(prog: str, description: str, config_class: type, presets: Sequence[str]) -> ArgumentParser:
    """``--preset``, ``--set KEY=VALUE`` and one ``--flag`` per setting of ``config_class``."""
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("--preset", default="default", choices=list(presets), help="named config preset")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config setting (repeatable), e.g. --set filters=16,32",
    )
    defaults = config_class()  # a group's defaults are the pipeline's (its Training, say), not the class's
    groups: dict[str, argparse._ArgumentGroup] = {}
    for setting in config_lib.settings(config_class).values():
        title = f"{setting.group} settings" if setting.group else "settings"
        if title not in groups:
            groups[title] = parser.add_argument_group(f"{title} (each overrides the preset)")
        group = groups[title]
        type_name = getattr(setting.annotation, "__name__", str(setting.annotation).replace("typing.", ""))
        default = config_lib.value(defaults, setting.name)
        group.add_argument(
            "--" + setting.name.replace("_", "-"),
            dest="field__" + setting.name,
            default=None,
            metavar=type_name.upper(),
            help=f"{setting.help} (default: {default!r})" if setting.help else f"default: {default!r}",
        )
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, str]:
    """Collects the config overrides given as ``--flag`` options and ``--set key=value``."""
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise UserError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value.strip()
    for name, value in vars(args).items():
        if name.startswith("field__") and value is not None:
            overrides[name[len("field__") :]] = value
    return overrides


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Calls ``main`` and turns user errors into one line on stderr and exit status 2.

    The project's own log lines are shown from INFO up; the libraries that log through absl
    (TensorFlow, TFDS: "Constructing tf.data.Dataset ...", "Assets written to ...") from WARNING up.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for library in ("absl", "tensorflow"):
        logging.getLogger(library).setLevel(logging.WARNING)
    try:
        return main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
