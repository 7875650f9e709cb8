"""Robustness of `soundloc simulate` / `soundloc inspect` (issue 6): never delete what soundloc did
not write, no residue after a failed run, disk-full and missing files named in one line, full
disks refused up front. Every CLI case through `main([...])`: exit code, one stderr line naming
the culprit, no traceback."""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenes"))
from scene_helpers import make_corpus

from soundloc.cli import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("robust_corpus"))


def _sim(out: Path, corpus: Path, *extra: str) -> list[str]:
    return ["simulate", str(out), "--preset", "tiny", "--clips", "2", "--corpus", str(corpus), "--no-progress", *extra]


def _one_error(capsys, *words: str, command: str = "simulate") -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"soundloc {command}: error:"), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- item 1: --overwrite removes only what soundloc wrote --------------------------------------


def test_overwrite_refuses_a_folder_whose_dataset_json_is_not_ours(tmp_path, capsys):
    """The issue's repro, exactly: `--preset tiny --overwrite` on a folder with a foreign dataset.json."""
    f = tmp_path / "f"
    (f / "audio" / "train").mkdir(parents=True)
    (f / "metadata").mkdir()
    (f / "dataset.json").write_text('{"name":"x"}\n')
    (f / "audio" / "train" / "rec.wav").write_text("keep\n")
    before = _files(f)
    t0 = time.perf_counter()
    for extra in (["--overwrite"], []):
        assert main(["simulate", str(f), "--preset", "tiny", "--no-progress", *extra]) == 2
        _one_error(capsys, str(f / "dataset.json"), "not written by soundloc", "new folder")
    assert time.perf_counter() - t0 < 10  # refused before the built-in sounds are rendered
    assert _files(f) == before  # rec.wav kept, nothing added
    assert sorted(p.name for p in f.rglob("*")) == ["audio", "dataset.json", "metadata", "rec.wav", "train"]


@pytest.mark.parametrize("content", [b"{not json", b"\x89PNG\r\n\x1a\n\x00", b"[1, 2]", b'{"format": "other"}'])
def test_unreadable_or_foreign_dataset_json_is_never_overwritten(content, tmp_path, corpus, capsys):
    f = tmp_path / "f"
    (f / "audio" / "train").mkdir(parents=True)
    (f / "dataset.json").write_bytes(content)
    (f / "audio" / "train" / "clip_000000.flac").write_bytes(b"user data with our name")
    assert main(_sim(f, corpus, "--overwrite")) == 2
    _one_error(capsys, "not written by soundloc")
    assert (f / "audio" / "train" / "clip_000000.flac").read_bytes() == b"user data with our name"
    assert (f / "dataset.json").read_bytes() == content


def test_genuine_overwrite_replaces_our_files_and_keeps_the_users(tmp_path, corpus, capsys):
    out = tmp_path / "ds"
    assert main(_sim(out, corpus, "--clips", "3")) == 0
    ours_before = set(_files(out))
    # the user's own files inside the dataset folder, some in our folders, one with a name like ours
    user = {
        "notes.txt": b"mine",
        "audio/train/rec.wav": b"keep",
        "metadata/train/clip_000000.txt": b"keep",
        "audio/extra/clip_000001.flac": b"keep",
        ".hidden.tmp": b"keep",
        "audio/train/.mine.tmp": b"keep",
    }
    for rel, data in user.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    # a resume (same dataset) keeps everything
    assert main(_sim(out, corpus, "--clips", "3")) == 0
    assert "simulated 0, kept 3" in capsys.readouterr().out
    # a different dataset needs --overwrite ...
    assert main(_sim(out, corpus, "--seed", "5")) == 2
    _one_error(capsys, "different config", "seed 0 there, 5 here", "--overwrite")
    # ... which replaces exactly our files: 3 old clips -> 2 new ones, the user's files untouched
    assert main(_sim(out, corpus, "--seed", "5", "--overwrite")) == 0
    capsys.readouterr()
    for rel, data in user.items():
        assert (out / rel).read_bytes() == data, rel
    fresh = tmp_path / "fresh"
    assert main(_sim(fresh, corpus, "--seed", "5")) == 0
    got = {k: v for k, v in _files(out).items() if k not in user}
    assert got == _files(fresh)
    assert not (out / "audio" / "test" / "clip_000002.flac").exists() and len(ours_before) > len(got)


# --- item 8: a failed run leaves nothing that blocks the fixed rerun -----------------------------


def test_bad_corpus_leaves_no_residue_and_the_fixed_rerun_works(tmp_path, corpus, capsys):
    bad = tmp_path / "bad_corpus"
    for cls in ("a", "b"):
        (bad / cls).mkdir(parents=True)
        for k in range(2):
            (bad / cls / f"{cls}{k}.wav").write_bytes(b"not audio at all")
    out = tmp_path / "out"
    assert main(_sim(out, bad)) == 2
    _one_error(capsys, "cannot decode audio")
    assert not out.exists()  # this run created the folder: it is gone again
    # an existing empty folder stays, empty
    out.mkdir()
    assert main(_sim(out, bad)) == 2
    capsys.readouterr()
    assert out.is_dir() and not list(out.iterdir())
    assert main(_sim(out, corpus)) == 0
    assert "simulated 2" in capsys.readouterr().out


def test_header_without_clips_is_replaced_without_overwrite(tmp_path, corpus, capsys):
    """A killed run that finished no clip (only dataset.json on disk) does not block a new config."""
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 0
    for p in list((out / "audio").rglob("*.flac")) + list((out / "metadata").rglob("clip_*")):
        p.unlink()
    (out / "manifest.jsonl").unlink()
    capsys.readouterr()
    assert main(_sim(out, corpus, "--seed", "3")) == 0
    assert json.loads((out / "dataset.json").read_text())["seed"] == 3


# --- item 6: disk full and missing files -------------------------------------------------------


def test_disk_full_names_the_clip_path_and_leaves_no_temp_files(tmp_path, corpus, capsys, monkeypatch):
    import soundloc.audio

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(soundloc.audio.sf, "write", full)
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 2
    err = _one_error(capsys, "no space left on device", str(out / "audio" / "train" / "clip_000000.flac"))
    assert ".tmp" not in err
    assert not out.exists()  # nothing finished: no residue


def test_libsndfile_system_error_on_a_full_disk_says_so(tmp_path, corpus, capsys, monkeypatch):
    import shutil

    import soundfile as sf

    import soundloc.audio
    from soundloc.scenes import writer

    def system_error(*a, **k):
        raise sf.LibsndfileError(2, "")  # SF_ERR_SYSTEM: "System error."

    monkeypatch.setattr(soundloc.audio.sf, "write", system_error)
    monkeypatch.setattr(writer, "_free_bytes", lambda out: 10**12)  # the preflight saw room
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))
    assert main(_sim(tmp_path / "ds", corpus)) == 2
    err = _one_error(capsys, "cannot write", "clip_000000.flac: no space left on device")
    assert "System error" not in err


def test_too_many_clips_for_the_disk_are_refused_before_writing(tmp_path, capsys):
    out = tmp_path / "big"
    t0 = time.perf_counter()
    assert main(["simulate", str(out), "--preset", "tiny", "--clips", "10000000", "--no-progress"]) == 2
    assert time.perf_counter() - t0 < 10
    _one_error(capsys, "10000000 clips need about", "TB on disk", "free under", str(out))
    assert not out.exists()


def test_preflight_estimate_matches_a_real_dataset(tmp_path, corpus):
    from scene_helpers import small_config

    from soundloc.scenes.writer import generate_dataset, preflight

    cfg = small_config(corpus, num_clips=4)
    est = preflight(tmp_path / "ds", cfg)
    assert est.todo == 4 and "planning 4 clips (4 to simulate" in est.summary()
    rep = generate_dataset(tmp_path / "ds", cfg, seed=0)
    assert 0.6 < est.needed_bytes / rep.disk_bytes < 1.6  # a useful estimate, not a bound
    again = preflight(tmp_path / "ds", cfg)
    assert again.todo == 0 and again.needed_bytes == 0


def test_resume_scan_of_a_million_clips_is_fast(tmp_path, corpus):
    """Planning what is left to do lists each folder once (no per-clip stat calls)."""
    from scene_helpers import small_config

    from soundloc.corpus import get_corpus
    from soundloc.scenes.clip import ClipContext
    from soundloc.scenes.writer import _complete_indices

    ctx = ClipContext(small_config(corpus, num_clips=1_000_000), 0, get_corpus(str(corpus)))
    for sub, ext in (("audio", "flac"), ("metadata", "csv"), ("metadata", "json")):
        (tmp_path / sub / "train").mkdir(parents=True, exist_ok=True)
        for i in (0, 5):
            (tmp_path / sub / "train" / f"clip_{i:06d}.{ext}").write_bytes(b"x")
    (tmp_path / "metadata" / "train" / "clip_000007.json").write_bytes(b"x")  # incomplete clip
    t0 = time.perf_counter()
    assert _complete_indices(tmp_path, ctx.plan, "flac") == {0, 5}
    assert time.perf_counter() - t0 < 1.0


# --- item 7: options and files named ------------------------------------------------------------


def test_negative_seed_names_the_option(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "o"), "--preset", "tiny", "--seed", "-1"]) == 2
    _one_error(capsys, "--seed must be >= 0, got -1")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content, words", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", ["not valid YAML", "binary"]),
    (b"room: " + b"[" * 20000 + b"]" * 20000, ["nested too deeply"]),
])
def test_binary_and_deeply_nested_yaml_name_the_file(content, words, tmp_path, capsys):
    cfg = tmp_path / "scene.yaml"
    cfg.write_bytes(content)
    assert main(["simulate", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    _one_error(capsys, str(cfg), *words)


def test_inspect_deleted_clip_names_it(tmp_path, corpus, capsys):
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 0
    victim = min((out / "audio").rglob("*.flac"))
    victim.unlink()
    capsys.readouterr()
    assert main(["inspect", str(out), "--no-plot"]) == 2
    err = _one_error(capsys, f"clip file missing: {victim}", command="inspect")
    assert "System error" not in err


def test_corrupt_clip_json_names_the_file(tmp_path, corpus, capsys):
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 0
    capsys.readouterr()
    (out / "manifest.jsonl").unlink()  # the reader falls back to the per-clip JSON files
    bad = min((out / "metadata").rglob("clip_*.json"))
    bad.write_text("{truncated")
    assert main(["inspect", str(out), "--no-plot"]) == 2
    _one_error(capsys, str(bad), "not valid JSON", command="inspect")
    bad.write_text("[" * 100000)
    assert main(["inspect", str(out), "--no-plot"]) == 2
    _one_error(capsys, str(bad), "nested too deeply", command="inspect")
    # the writer's manifest rebuild names it too
    assert main(_sim(out, corpus)) == 2
    _one_error(capsys, str(bad))


@pytest.mark.parametrize("plot", ["/proc/p.png", "FILE/p.png", "DIR"])
def test_inspect_plot_to_an_unwritable_place_is_one_line_naming_it(plot, tmp_path, corpus, capsys):
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 0
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "DIR").mkdir()
    target = plot if plot.startswith("/") else str(tmp_path / plot)
    capsys.readouterr()
    assert main(["inspect", str(out), "--plot", target]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the summary
    err = captured.err
    assert err.startswith("soundloc inspect: error: cannot write " + target + ":") and err.count("\n") == 1, err
    assert ".tmp" not in err and "Traceback" not in err
    if not plot.startswith("/proc"):
        assert not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_inspect_plot_into_read_only_folder(tmp_path, corpus, capsys):  # pragma: no cover - root CI
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 0
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        capsys.readouterr()
        assert main(["inspect", str(out), "--plot", str(ro / "p.png")]) == 2
        _one_error(capsys, f"cannot write {ro / 'p.png'}: permission denied", command="inspect")
    finally:
        ro.chmod(0o755)


def test_inspect_plot_with_an_unknown_format(tmp_path, corpus, capsys):
    out = tmp_path / "ds"
    assert main(_sim(out, corpus)) == 0
    capsys.readouterr()
    assert main(["inspect", str(out), "--plot", str(tmp_path / "p.xyz")]) == 2
    _one_error(capsys, "--plot", "'xyz'", "png", command="inspect")


def test_nested_new_folders_are_removed_after_a_failed_run(tmp_path, corpus, capsys, monkeypatch):
    import soundloc.audio

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(soundloc.audio.sf, "write", full)
    assert main(_sim(tmp_path / "a" / "b" / "out", corpus)) == 2
    capsys.readouterr()
    assert list(tmp_path.iterdir()) == []


def test_terminal_run_says_what_it_plans(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["simulate", str(tmp_path / "ds"), "--preset", "tiny", "--clips", "2", "--corpus", str(corpus)]) == 0
    err = capsys.readouterr().err
    assert "simulating 2 clips" in err and "planning 2 clips (2 to simulate, about" in err and "free)" in err
