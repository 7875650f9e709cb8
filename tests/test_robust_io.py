"""Robustness of the shared input/output mechanisms (issue 6): array files in other units and of
absurd size, symlinks out of a dataset, atomic writes that fail (disk full, unwritable places)
naming the user's path, JSON files that are binary / nested / corrupt."""

from __future__ import annotations

import errno
import json
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent / "doa"))
from doa_test_signals import plane_wave

from soundloc.cli import main
from soundloc.fileio import (
    OutputError,
    atomic_path,
    check_writable,
    load_json,
    write_text_atomic,
)
from soundloc.geometry import MAX_MICS, MicArray, get_array

ISSUE_POSITIONS = [[50, 0, 0], [0, 50, 0], [-50, 0, 0], [0, -50, 0]]  # the issue's array, in mm


def _json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


# --- item 2: units of an array file -------------------------------------------------------------


def test_unitless_millimetre_array_is_refused_naming_the_likely_unit(tmp_path):
    p = _json(tmp_path / "arr.json", {"positions": ISSUE_POSITIONS})
    with pytest.raises(ValueError) as e:
        get_array(p)
    msg = str(e.value)
    assert str(p) in msg and "aperture 100 m" in msg and "millimetres (0.1 m)" in msg
    assert '"units": "mm"' in msg and '"units": "m"' in msg and "\n" not in msg


@pytest.mark.parametrize("units, scale", [("mm", 1e-3), ("cm", 1e-2), ("m", 1.0)])
def test_units_field_scales_to_metres(tmp_path, units, scale):
    pos = np.array([[0.05, 0, 0], [0, 0.05, 0], [-0.05, 0, 0], [0, -0.05, 0]])
    arr = get_array(_json(tmp_path / "a.json", {"positions": (pos / scale).tolist(), "units": units}))
    np.testing.assert_allclose(arr.positions, pos, atol=1e-12)
    assert MicArray.from_dict({"positions": (pos / scale).tolist(), "units": units}) == MicArray("array", arr.positions)


def test_large_arrays_need_units_m_and_round_trip(tmp_path):
    big = [[0, 0, 0], [3.0, 0, 0], [0, 4.0, 0]]  # a distributed array of 5 m, in metres
    with pytest.raises(ValueError, match='"units": "m" to confirm metres'):
        get_array(_json(tmp_path / "a.json", {"positions": big}))
    arr = get_array(_json(tmp_path / "b.json", {"positions": big, "units": "m"}))
    assert arr.aperture == pytest.approx(5.0)
    arr.to_json(tmp_path / "c.json")  # written with its unit, so it reads back
    assert get_array(tmp_path / "c.json") == arr and MicArray.from_dict(arr.to_dict()) == arr
    with pytest.raises(ValueError, match="\"units\" must be one of m, cm, mm, got 'inch'"):
        get_array(_json(tmp_path / "d.json", {"positions": big, "units": "inch"}))


def test_aperture_between_one_and_two_metres_warns(tmp_path):
    p = _json(tmp_path / "a.json", {"positions": [[0, 0, 0], [1.5, 0, 0]]})
    with pytest.warns(UserWarning, match="aperture 1.5 m"):
        arr = get_array(p)
    assert arr.aperture == pytest.approx(1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_array(_json(tmp_path / "b.json", {"positions": [[0, 0, 0], [1.5, 0, 0]], "units": "m"}))
        get_array(_json(tmp_path / "c.json", {"positions": [[0, 0, 0], [0.9, 0, 0]]}))


def test_dataset_json_array_is_metres(tmp_path):
    big = MicArray("wide", np.array([[0, 0, 0], [3.0, 0, 0]]))
    p = _json(tmp_path / "dataset.json", {"format": "soundloc-dataset", "array": {"name": "wide", "positions": big.positions.tolist()}})
    assert get_array(p) == big


@pytest.fixture(scope="module")
def rec96(tmp_path_factory) -> Path:
    """A plane wave from azimuth 96 deg on the issue's 4-mic array (10 cm across)."""
    arr = MicArray("cross", np.array(ISSUE_POSITIONS, float) * 1e-3)
    rng = np.random.default_rng(3)
    x = plane_wave(arr, 96.0, 0.0, rng.standard_normal(24000), 16000, 8000)
    path = tmp_path_factory.mktemp("rec") / "rec96.wav"
    sf.write(str(path), (0.3 * x / np.abs(x).max()).T, 16000, subtype="FLOAT")
    return path


def test_localize_with_mm_array_gives_the_right_direction(rec96, tmp_path, capsys):
    mm = _json(tmp_path / "mm.json", {"positions": ISSUE_POSITIONS, "units": "mm"})
    assert main(["localize", str(rec96), "--array", str(mm), "--format", "json"]) == 0
    az = json.loads(capsys.readouterr().out)[0]["sources"][0]["azimuth"]
    assert abs(az - 96.0) <= 2.0
    bare = _json(tmp_path / "bare.json", {"positions": ISSUE_POSITIONS})
    assert main(["localize", str(rec96), "--array", str(bare), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no confident wrong answer
    assert captured.err.count("\n") == 1 and "millimetres" in captured.err and str(bare) in captured.err


def test_localize_warning_is_one_line(rec96, tmp_path, capsys):
    # a 1.2 m "array" (the positions in decimetres, say): accepted with a one-line warning
    p = _json(tmp_path / "dm.json", {"positions": (np.array(ISSUE_POSITIONS) * 0.012).tolist()})
    main(["localize", str(rec96), "--array", str(p), "--format", "json"])
    err = capsys.readouterr().err
    assert err.startswith("soundloc localize: warning: array file") and "aperture 1.2 m" in err
    assert err.count("\n") == 1 and "UserWarning" not in err


# --- item 4: array size ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1000, 100_000])
def test_huge_mic_counts_are_one_line(n, tmp_path, rec96, capsys):
    rng = np.random.default_rng(0)
    p = _json(tmp_path / "many.json", {"positions": rng.uniform(-0.5, 0.5, (n, 3)).round(4).tolist()})
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=f"{n} microphones; soundloc supports at most {MAX_MICS}"):
        get_array(p)
    assert main(["localize", str(rec96), "--array", str(p)]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"at most {MAX_MICS}" in err and str(p) in err
    with pytest.raises(ValueError, match="at most"):
        MicArray("many", rng.uniform(-0.5, 0.5, (n, 3)))
    assert MicArray("ok", rng.uniform(-0.5, 0.5, (MAX_MICS, 3))).num_mics == MAX_MICS


# --- item 7: JSON that is not what it claims ------------------------------------------------------


@pytest.mark.parametrize("content, words", [
    (b"[" * 100000 + b"]" * 100000, ["nested too deeply"]),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", ["not valid JSON", "binary"]),
    (b'{"positions": ', ["not valid JSON"]),
])
def test_bad_array_files_name_the_file(content, words, tmp_path, rec96, capsys):
    p = tmp_path / "arr.json"
    p.write_bytes(content)
    with pytest.raises(ValueError) as e:
        get_array(p)
    assert f"array file '{p}'" in str(e.value) and all(w in str(e.value) for w in words)
    assert main(["localize", str(rec96), "--array", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(p) in err and "Traceback" not in err


def test_load_json_messages(tmp_path):
    with pytest.raises(ValueError, match=r"^thing '.*missing.json' does not exist$"):
        load_json(tmp_path / "missing.json", what="thing")
    with pytest.raises(ValueError, match="is a folder"):
        load_json(tmp_path)
    assert load_json(_json(tmp_path / "ok.json", {"a": [1, 2]})) == {"a": [1, 2]}


# --- items 6/7: atomic writes that fail name the final path ---------------------------------------


def test_output_error_names_the_final_path_not_the_temp_file(tmp_path):
    target = tmp_path / "out.txt"

    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".out.txt.abcd1234.tmp"))

    with pytest.raises(OutputError) as e, atomic_path(target) as tmp:
        tmp.write_text("half")
        boom()
    assert str(e.value) == f"cannot write {target}: no space left on device"
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []  # temp file removed, no target
    back = pickle.loads(pickle.dumps(e.value))  # crosses worker processes unchanged
    assert type(back) is OutputError and str(back) == str(e.value)


@pytest.mark.parametrize("where", ["/proc/p.png", "FILE/sub/p.png", "DIR"])
def test_unwritable_destinations(where, tmp_path):
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "DIR").mkdir()
    target = Path(where) if where.startswith("/") else tmp_path / where
    for attempt in (lambda: write_text_atomic(target, "x"), lambda: check_writable(target)):
        with pytest.raises(OutputError) as e:
            attempt()
        assert str(e.value).startswith(f"cannot write {target}: ") and ".tmp" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIR", "FILE"]


def test_check_writable_leaves_nothing(tmp_path):
    check_writable(tmp_path / "a" / "b" / "p.png")
    assert list(tmp_path.iterdir()) == []


def test_write_audio_disk_full_from_libsndfile(tmp_path, monkeypatch):
    import shutil

    import soundloc.audio
    from soundloc.audio import write_audio

    def system_error(*a, **k):
        raise sf.LibsndfileError(2, "")

    monkeypatch.setattr(soundloc.audio.sf, "write", system_error)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 10))
    with pytest.raises(OutputError, match=r"cannot write .*x\.wav: no space left on device$"):
        write_audio(tmp_path / "x.wav", np.zeros((2, 1000)), 16000)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**12, 0, 10**12))
    with pytest.raises(OutputError, match=r"x\.wav: libsndfile failed \(System error\)"):
        write_audio(tmp_path / "x.wav", np.zeros((2, 1000)), 16000)
    assert list(tmp_path.iterdir()) == []


def test_cli_turns_system_oserrors_into_one_line():
    from soundloc.cli import error_line

    assert error_line(PermissionError(errno.EACCES, "Permission denied", "/x/y")) == "/x/y: permission denied"
    assert error_line(MemoryError()).startswith("out of memory")
    assert error_line(ValueError("a\nb")) == "a"


# --- item 3: symlinks out of a dataset --------------------------------------------------------------


def _dcase_folder(root: Path, outside: Path) -> tuple[Path, Path]:
    x = (0.1 * np.random.default_rng(0).standard_normal((4, 4800))).astype(np.float32)
    for d in ("mic_dev/dev-test-a", "metadata_dev/dev-test-a"):
        (root / d).mkdir(parents=True)
    sf.write(str(root / "mic_dev/dev-test-a/ok.wav"), x.T, 24000)
    (root / "metadata_dev/dev-test-a/ok.csv").write_text("0,1,0,30,0\n")
    outside.mkdir()
    sf.write(str(outside / "secret.wav"), x.T, 24000)
    (outside / "secret.csv").write_text("0,1,0,30,0\n")
    return root / "mic_dev/dev-test-a", root / "metadata_dev/dev-test-a"


@pytest.mark.parametrize("which", ["audio", "labels"])
def test_dcase_reader_refuses_file_symlinks_out_of_the_root(which, tmp_path):
    from soundloc.data.layout import open_dataset

    adir, mdir = _dcase_folder(tmp_path / "ds", tmp_path / "elsewhere")
    assert len(open_dataset(tmp_path / "ds").entries) == 1
    if which == "audio":
        (adir / "leak.wav").symlink_to(tmp_path / "elsewhere" / "secret.wav")
        (mdir / "leak.csv").write_text("0,1,0,30,0\n")
    else:
        sf.write(str(adir / "leak.wav"), np.zeros((100, 4), np.float32) + 0.1, 24000)
        (mdir / "leak.csv").symlink_to(tmp_path / "elsewhere" / "secret.csv")
    with pytest.raises(ValueError, match=r"leak\.(wav|csv)' points outside the dataset root"):
        open_dataset(tmp_path / "ds")
    # a symlink that stays inside the root is fine
    for p in (adir / "leak.wav", mdir / "leak.csv"):
        p.unlink()
    (adir / "twin.wav").symlink_to(adir / "ok.wav")
    (mdir / "twin.csv").symlink_to(mdir / "ok.csv")
    assert len(open_dataset(tmp_path / "ds").entries) == 2


def test_soundloc_layout_refuses_the_same_symlink(tmp_path):
    from soundloc.data.layout import open_dataset

    root = tmp_path / "ds"
    (root / "audio" / "test").mkdir(parents=True)
    (root / "metadata" / "test").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.flac").write_bytes(b"x")
    (root / "audio" / "test" / "clip_000000.flac").symlink_to(tmp_path / "elsewhere" / "secret.flac")
    (root / "metadata" / "test" / "clip_000000.csv").write_text("")
    (root / "dataset.json").write_text(json.dumps({"format": "soundloc-dataset", "class_names": ["a"]}))
    (root / "manifest.jsonl").write_text(json.dumps({"audio": "audio/test/clip_000000.flac",
                                                     "labels": "metadata/test/clip_000000.csv", "split": "test"}) + "\n")
    with pytest.raises(ValueError, match="clip_000000.flac' points outside the dataset root"):
        open_dataset(root)
