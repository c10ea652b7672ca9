"""The ``kpi`` command line: one subcommand per module, each with ``--help``.

Each subcommand lives in ``kpi/cli/<name>.py`` and defines ``register(subparsers)``, which adds
its parser and sets ``func`` (a callable taking the parsed namespace and returning an exit code).
Heavy imports happen inside ``func`` so that ``kpi --help`` stays fast.

:func:`main` is the one error boundary: whatever goes wrong ends in one line on standard error,
``kpi COMMAND: error: ...``, with control characters from data escaped, and an exit status of
:data:`EXIT_USAGE` for a mistake in the arguments or input (:class:`kpi.errors.KpiError`) or
:data:`EXIT_FAILURE` for a file-system error (``PATH: reason``), unreadable data or a bug.
``--debug`` (or ``KPI_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from kpi import __version__
from kpi.errors import KpiError

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main"]

#: Subcommands in the order ``kpi --help`` lists them.
COMMANDS = (
    "sample",
    "metrics",
    "compute",
    "cube",
    "import",
    "explain",
    "staffing",
    "forecast",
    "schedule",
    "report",
)

#: Exit status of a failure outside the arguments: file system, unreadable data, a failed
#: report, a bug.
EXIT_FAILURE = 1
#: Exit status of a mistake in the arguments or the input (argparse uses it too).
EXIT_USAGE = 2
#: Environment variable that, set to anything but ``0`` or empty, turns on ``--debug``.
DEBUG_ENV = "KPI_DEBUG"

EPILOG = f"""\
Run `kpi COMMAND --help` for the options of a command.

Errors print one line, `kpi COMMAND: error: ...`, and exit {EXIT_USAGE} for a mistake in the
arguments or input, {EXIT_FAILURE} for anything else (a file that cannot be read or written, a full
disk, unreadable data, a failed report), 130 when interrupted. --debug (before or after
COMMAND) or {DEBUG_ENV}=1 also prints the traceback.
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        """Print ``kpi COMMAND: error: MESSAGE (see ...)`` and exit with :data:`EXIT_USAGE`."""
        hint = f" (see `{self.prog} --help`)"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)}{hint}\n")


def _add_debug(parser: argparse.ArgumentParser, *, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help=f"print the traceback of an error (also: {DEBUG_ENV}=1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = _Parser(
        prog="kpi",
        description="Contact-centre and customer-service KPI workbench.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kpi-workbench {__version__}")
    _add_debug(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"kpi.cli.{name.replace('-', '_')}_cmd").register(sub)
    for command in sub.choices.values():
        # SUPPRESS: `kpi --debug compute` is not undone by the subcommand's default
        _add_debug(command, default=argparse.SUPPRESS)
    return parser


def _one_line(text: str) -> str:
    from kpi._sanitize import terminal_safe

    return terminal_safe(text.strip(), one_line=True) or "(no message)"


def _os_error(exc: OSError) -> str:
    """``PATH: reason`` (or the reason alone when no path is known)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return reason
    path = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        path += f" -> {os.fsdecode(exc.filename2)}"
    return f"{path}: {reason}"


def _ignore_signal(signum: int, frame: object) -> None:
    """A handler that does nothing (an interrupt already being handled)."""


class Terminated(KeyboardInterrupt):
    """``SIGTERM`` (a scheduler's stop, ``kill``), raised as an interrupt is: the same
    clean-up runs (no temporary file or spill left behind), then exit 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every error ends in one ``kpi COMMAND: error: ...`` line and a non-zero exit.

    Returns
    -------
    int
        0 on success, :data:`EXIT_USAGE` (2) for a mistake in the arguments or input,
        :data:`EXIT_FAILURE` (1) for a file-system error, unreadable data or a bug, 130 when
        interrupted.
    """
    import polars as pl

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit 0; a usage error has printed its line
        if exc.code in (0, None):
            raise
        return EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    prefix = f"kpi {args.command}: error: "

    def fail(message: str, code: int) -> int:
        if debug:
            traceback.print_exc()
        print(prefix + _one_line(message), file=sys.stderr, flush=True)
        return code

    try:
        with contextlib.suppress(ValueError):  # not the main thread: not ours to handle
            signal.signal(signal.SIGTERM, _terminate)
        return int(args.func(args) or 0)
    except KpiError as exc:
        return fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt as exc:
        # polars may hand the interrupt back as an exception while the signal is still
        # pending, and the next Python call raises it again: quieted first, retried when
        # that happens on the way in, so the message never becomes a traceback
        while True:
            try:
                signal.signal(signal.SIGINT, _ignore_signal)
                signal.signal(signal.SIGTERM, _ignore_signal)
            except KeyboardInterrupt:
                continue
            except ValueError:  # not the main thread: the signal is not ours to handle
                pass
            break
        if isinstance(exc, Terminated):
            print("kpi: terminated", file=sys.stderr)
            return 128 + signal.SIGTERM
        print("kpi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`kpi metrics | head`): no error, and no second one at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        return fail(_os_error(exc), EXIT_FAILURE)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return fail(f"cannot process the data: {first}", EXIT_FAILURE)
    except Exception as exc:
        return fail(
            f"internal error: {type(exc).__name__}: {exc} (a bug; run again with --debug for "
            "the traceback and report it)",
            EXIT_FAILURE,
        )
