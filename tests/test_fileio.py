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
