"""The ``kpi`` command line: one subcommand per module, each with ``--help``.

Each subcommand lives in ``kpi/cli/<name>.py`` and defines ``register(subparsers)``, which adds
its parser and sets ``func`` (a callable taking the parsed namespace and returning an exit code).
Heavy imports happen inside ``func`` so that ``kpi --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kpi import __version__
from kpi.errors import KpiError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommands in the order ``kpi --help`` lists them.
COMMANDS = ("sample", "metrics", "compute", "import", "explain", "staffing", "report")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="kpi",
        description="Contact-centre and customer-service KPI workbench.",
        epilog="Run `kpi COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"kpi-workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"kpi.cli.{name.replace('-', '_')}_cmd").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user mistakes print one ``kpi: error: ...`` line and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KpiError as exc:
        print(f"kpi {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kpi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
