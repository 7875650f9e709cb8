"""Shared check for CLI tests: a command fails with exit status 2 and one stderr line, no traceback."""

from __future__ import annotations

import pytest

from soundloc.cli import main


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    """Run ``soundloc argv``; it must exit 2 with a single stderr line containing ``needle``."""
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage errors
        rc = int(e.code or 0)
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and needle in err, err
