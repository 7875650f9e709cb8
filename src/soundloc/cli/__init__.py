"""The ``soundloc`` command.

Each sub-command lives in its own module ``soundloc.cli.<name>`` exposing
``register(subparsers) -> argparse.ArgumentParser``; the parser's ``func`` default is called with
the parsed namespace and returns an exit code. Modules keep heavy imports (torch,
pyroomacoustics, matplotlib) inside their functions so ``soundloc --help`` stays fast.

Errors are one line on stderr, ``soundloc COMMAND: error: <what, naming the file or option>``,
never a traceback; warnings are one line too (``soundloc COMMAND: warning: ...``). Exit codes,
the same for every sub-command:

* ``0``: done.
* ``1``: done, but some inputs were skipped (each named on stderr), e.g. a bad file among many.
* ``2``: nothing (more) could be done: a usage error, bad input, or an output that could not be
  written (read-only or missing folder, disk full, permission denied: the message names the
  path the user gave). Files already complete stay valid; nothing half-written is left.
* ``130``: interrupted (Ctrl-C); ``141``: the reader of stdout went away (``| head``).

``main(argv)`` is importable so tests call the CLI directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from soundloc import __version__

COMMANDS: tuple[str, ...] = ("demo", "localize", "arrays", "simulate", "inspect", "features")
"""Sub-command modules, in the order ``--help`` lists them."""
COMMANDS += ("score",)  # soundloc.cli.score: DCASE SELD scoring
COMMANDS += ("train", "evaluate")  # soundloc.cli.train / .evaluate: SELD model training and DCASE evaluation
COMMANDS += ("models",)  # soundloc.cli.models: the built-in pretrained models
COMMANDS += ("av-train",)  # soundloc.cli.av_train: train an audio-visual localizer
COMMANDS += ("av-evaluate",)  # soundloc.cli.av_evaluate: score it (cIoU, AUC, AP / max-F1), best/worst grid
COMMANDS += ("av-localize",)  # soundloc.cli.av_localize: heatmap over one frame
COMMANDS += ("pretrain", "probe", "embed")  # soundloc.cli.pretrain / .probe / .embed: MC-SimCLR self-supervision


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
            module = importlib.import_module(f"soundloc.cli.{name.replace('-', '_')}")  # av-train -> av_train
        except ModuleNotFoundError as e:  # a command whose module is not there yet
            if e.name != f"soundloc.cli.{name.replace('-', '_')}":
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
    import warnings

    def _show(message, category, filename, lineno, file=None, line=None):  # one line, no source echo
        print(f"soundloc {args.command}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("soundloc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `soundloc localize ... | head`: the reader left, stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError, RuntimeError, MemoryError) as e:
        print(f"soundloc {args.command}: error: {error_line(e)}", file=sys.stderr)
        return 2


def error_line(e: BaseException) -> str:
    """One line for an error: its message's first line; an ``OSError`` from the system
    (``"[Errno 13] Permission denied: 'x'"``) becomes ``"x: permission denied"``; a bare
    ``MemoryError`` says so."""
    if isinstance(e, OSError) and e.filename is not None and e.strerror and str(e).startswith("[Errno"):
        return f"{e.filename}: {e.strerror.lower()}"
    text = str(e).strip()
    if isinstance(e, MemoryError):
        return "out of memory" + (f" ({text.splitlines()[0]})" if text else "") + "; try smaller inputs or sizes"
    return text.splitlines()[0] if text else type(e).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
