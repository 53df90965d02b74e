"""The ``cc-segmentation`` command: one command, a subcommand per task.

``cc-segmentation build``, ``sample``, ``dashboard``, ``serve``,
``reports`` and ``calibrate``; ``python -m cc_segmentation`` is the same
command.  Each subcommand's options are defined once, by the module that
does the work (its ``add_arguments``), and only the chosen subcommand's
module is imported, so ``--help`` answers at once.  ``build`` and ``dashboard`` pass
every option they do not know to ``dbt build`` and ``streamlit run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

PROG = "cc-segmentation"

# What each subcommand does, in one line, for the command's own --help.
SUMMARIES = {
    "build": "build and publish the warehouse (dbt build, published atomically)",
    "sample": "write a synthetic credit-card sample (CSV or Parquet)",
    "dashboard": "start the Streamlit dashboard over the published warehouse",
    "serve": "start the scoring API (FastAPI) over the published warehouse",
    "reports": "write the PNG reports from the published warehouse",
    "calibrate": "compute the sample generator's calibration from the real file",
}

# A subcommand's handler: its parsed options and the options it passes on
# (build and dashboard only); returns the exit code.
Handler = Callable[[argparse.Namespace, list[str]], int]


def _build(parser: argparse.ArgumentParser) -> Handler:
    from cc_segmentation.publishing import runner

    parser.description = runner.DESCRIPTION
    parser.usage = "%(prog)s [-h] [dbt build options]"
    parser.epilog = runner.EPILOG

    def build(_args: argparse.Namespace, dbt_args: list[str]) -> int:
        from cc_segmentation.publishing import spark

        if spark.targets_spark(dbt_args):
            return spark.run(dbt_args)
        return runner.run(dbt_args)

    return build


def _dashboard(parser: argparse.ArgumentParser) -> Handler:
    from cc_segmentation.apps import launch

    parser.description = launch.DESCRIPTION
    parser.usage = "%(prog)s [-h] [streamlit run options]"
    parser.epilog = launch.EPILOG
    return lambda _args, streamlit_args: launch.run(streamlit_args)


def _module_command(module_name: str) -> Callable[[argparse.ArgumentParser], Handler]:
    """A subcommand whose module defines DESCRIPTION, add_arguments and run."""

    def configure(parser: argparse.ArgumentParser) -> Handler:
        module = importlib.import_module(module_name)
        parser.description = module.DESCRIPTION
        module.add_arguments(parser)
        return lambda args, _extra: module.run(args, parser)

    return configure


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], Handler]] = {
    "build": _build,
    "sample": _module_command("cc_segmentation.data.sample"),
    "dashboard": _dashboard,
    "serve": _module_command("cc_segmentation.apps.serve"),
    "reports": _module_command("cc_segmentation.apps.reports"),
    "calibrate": _module_command("cc_segmentation.data.calibration"),
}
# Subcommands whose unknown options belong to the program they start.
PASSES_OPTIONS_ON = {"build", "dashboard"}


def make_parser(
    command: str | None = None,
) -> tuple[argparse.ArgumentParser, Handler | None]:
    """The command's parser, with ``command``'s options filled in.

    Only ``command``'s module is imported; the other subcommands are listed
    with their summaries.  Returns the parser and ``command``'s handler.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Credit-card customer segmentation with dbt, DuckDB and "
        "scikit-learn.",
        epilog="Each command's options: cc-segmentation COMMAND --help",
    )
    subcommands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )
    handler = None
    for name, summary in SUMMARIES.items():
        passes_on = name in PASSES_OPTIONS_ON
        sub = subcommands.add_parser(
            name,
            help=summary,
            description=summary,
            # an option of dbt or streamlit must not be read as a prefix of ours
            allow_abbrev=not passes_on,
        )
        if name == command:
            handler = COMMANDS[name](sub)
            if not passes_on:
                # what parse_known_args leaves is an error, as parse_args says
                sub.set_defaults(_reject=sub)
    return parser, handler


def main(argv: list[str] | None = None) -> int:
    """Run ``cc-segmentation`` with ``argv`` (default: the process's)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser, handler = make_parser(command if command in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    reject = vars(args).pop("_reject", None)
    if extra and reject is not None:
        reject.error(f"unrecognized arguments: {' '.join(extra)}")
    assert handler is not None  # argparse has ended the process otherwise
    return handler(args, extra)
