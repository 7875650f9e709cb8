"""Atomic writes: the target appears whole or not at all, and no temp file is left behind."""

import json

import pytest

from soundloc.fileio import atomic_path, write_json_atomic, write_text_atomic


def test_success_replaces_target_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_failure_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "a.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            assert tmp.name.startswith(".a.json.") and tmp.parent == tmp_path
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_written_files_get_umask_permissions_not_private(tmp_path):
    # mkstemp makes 0600 files and os.replace keeps the mode: datasets and plots would be
    # unreadable by anyone else on a shared machine. A normal write gives 0666 & ~umask.
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"y")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
