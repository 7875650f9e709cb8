"""The ``soundloc`` command.

Each sub-command lives in its own module ``soundloc.cli.<name>`` exposing
``register(subparsers) -> argparse.ArgumentParser``; the parser's ``func`` default is called with
the parsed namespace and returns an exit code. Modules keep heavy imports (torch,
pyroomacoustics, matplotlib) inside their functions so ``soundloc --help`` stays fast.

User errors (``ValueError``, ``FileNotFoundError``, ...) become a one-line message and exit
code 2, never a traceback. ``main(argv)`` is importable so tests call the CLI directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from soundloc import __version__

COMMANDS: tuple[str, ...] = ("demo", "localize", "arrays", "simulate", "inspect", "features")
"""Sub-command modules, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line (no usage dump), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="soundloc",
        description="Find where sounds come from: simulate labelled scenes and localize sources.",
    )
    parser.add_argument("--version", action="version", version=f"soundloc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"soundloc.cli.{name}")
        except ModuleNotFoundError as e:  # a command whose module is not there yet
            if e.name != f"soundloc.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("soundloc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `soundloc localize ... | head`: the reader left, stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"soundloc {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
