"""`soundloc localize` robustness: long files in blocks, streamed jsonl output, option limits (issue 6)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundloc.cli import main
from soundloc.geometry import MicArray, unit_vectors_deg

FS = 16000


def _scene(n: int, az: float = 60.0, seed: int = 0) -> np.ndarray:
    """(4, n) white-noise plane wave from ``az`` on the circular4 array (exact delays)."""
    arr = MicArray.preset("circular4")
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n, 1 / FS)
    tau = arr.delays(unit_vectors_deg(az, 0.0))[0]
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(-2j * np.pi * f * tau[:, None]), n=n)
    x += 0.05 * rng.standard_normal(x.shape)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _write(path: Path, x: np.ndarray) -> Path:
    sf.write(str(path), x.T, FS, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("robust") / "rec.wav", _scene(int(3.3 * FS)))


def _one_line(capsys, *must: str) -> str:
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert "Traceback" not in cap.err and lines[0].startswith("soundloc localize: error: ")
    for s in must:
        assert s in lines[0], lines[0]
    return cap.out


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def _count_blocks(monkeypatch, block: int) -> list[int]:
    """Make the reader use ``block``-sample blocks; returns the list of block sizes read."""
    import soundloc.audio

    seen: list[int] = []
    real = soundloc.audio.iter_audio_blocks

    def spy(*a, **kw):
        for x, fs in real(*a, **kw):
            seen.append(x.shape[1])
            yield x, fs

    monkeypatch.setattr(soundloc.audio, "BLOCK_FRAMES", block)
    monkeypatch.setattr(soundloc.audio, "iter_audio_blocks", spy)
    return seen


# ---------------------------------------------------------------------------
# long files: blocks, identical results, streamed output
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("frame, hop", [("0.25", None), ("0.5", "0.2"), ("0.1", "0.4")])
def test_windows_read_in_blocks_equal_locate_frames(rec, frame, hop, capsys, monkeypatch):
    """Windows straddling tiny blocks give exactly today's Localizer.locate_frames on the whole array."""
    from soundloc.audio import read_audio
    from soundloc.doa import get_localizer
    from soundloc.doa.batch import to_records

    blocks = _count_blocks(monkeypatch, 1000)
    extra = ["--hop", hop] if hop else []
    assert main(["localize", str(rec), "--array", "circular4", "--method", "srp-phat,gcc-phat,music",
                 "--frame-length", frame, *extra, "--format", "jsonl"]) == 0
    got = _jsonl(capsys.readouterr().out)
    assert len(blocks) == -(-int(3.3 * FS) // 1000) and max(blocks) == 1000  # read in many blocks
    x, _ = read_audio(rec)
    want = {}
    for m in ("srp-phat", "gcc-phat", "music"):
        loc = get_localizer(m, MicArray.preset("circular4"), FS, grid=None if m else None)
        res = loc.locate_frames(x, frame_length=float(frame), hop_length=None if hop is None else float(hop))
        want[m] = to_records([rec] * len(res), [[r] for r in res])
    # jsonl: window by window, all methods of a window together
    n = len(want["srp-phat"])
    assert [(r["method"], r["start"]) for r in got] == [(m, want[m][k]["start"]) for k in range(n) for m in want]
    for m in want:
        assert [r for r in got if r["method"] == m] == want[m]  # bit-identical floats
    assert got[-1]["end"] == pytest.approx(3.3)


def test_library_windows_bitwise_and_short_file_notice(tmp_path):
    from soundloc.audio import read_audio
    from soundloc.doa import get_localizer
    from soundloc.doa.batch import iter_localize

    arr = MicArray.preset("circular4")
    f = _write(tmp_path / "w.wav", _scene(20000, az=-30.0))
    evs = list(iter_localize([f], arr, ["srp-phat"], frame_length=0.3, hop_length=0.1, block_frames=777))
    ref = get_localizer("srp-phat", arr, FS).locate_frames(read_audio(f)[0], frame_length=0.3, hop_length=0.1)
    res = [e.result for e in evs if e.kind == "result"]
    assert len(res) == len(ref) > 5
    for a, b in zip(res, ref):
        assert np.array_equal(a.spectrum, b.spectrum) and np.array_equal(a.azimuth, b.azimuth)
        assert (a.start, a.end) == (b.start, b.end)
    # a file shorter than the window: one window and a notice
    evs = list(iter_localize([f], arr, ["srp-phat"], frame_length=5.0))
    assert [e.kind for e in evs] == ["notice", "result"]
    assert "w.wav" in evs[0].message and "shorter than the 5 s window" in evs[0].message
    assert evs[1].result.end == pytest.approx(20000 / FS)


def test_whole_file_mode_on_a_long_file_accumulates_blocks(rec, capsys, monkeypatch):
    import soundloc.doa.batch

    assert main(["localize", str(rec), "--array", "circular4", "--method", "all", "--format", "json"]) == 0
    direct = json.loads(capsys.readouterr().out)
    blocks = _count_blocks(monkeypatch, 4000)
    monkeypatch.setattr(soundloc.doa.batch, "STREAM_BYTES", 10_000)  # "long": read block by block
    assert main(["localize", str(rec), "--array", "circular4", "--method", "all", "--format", "json"]) == 0
    streamed = json.loads(capsys.readouterr().out)
    assert len(blocks) == -(-int(3.3 * FS) // 4000)
    assert [r["method"] for r in streamed] == [r["method"] for r in direct]
    for a, b in zip(streamed, direct):
        assert (a["start"], a["end"]) == (b["start"], b["end"])
        assert abs(a["sources"][0]["azimuth"] - b["sources"][0]["azimuth"]) < 0.05
        assert abs(a["sources"][0]["azimuth"] - 60.0) <= 2


def test_jsonl_interrupted_keeps_the_finished_windows(rec, capsys, monkeypatch):
    import soundloc.doa.batch
    from soundloc.doa.base import Localizer

    monkeypatch.setattr(soundloc.doa.batch, "WINDOW_BATCH_BYTES", 1)  # one window per locate_batch call
    calls = []
    real = Localizer.locate_batch

    def stop_at_fourth(self, *a, **kw):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(Localizer, "locate_batch", stop_at_fourth)
    code = main(["localize", str(rec), "--array", "circular4", "--frame-length", "0.25", "--format", "jsonl"])
    cap = capsys.readouterr()
    assert code == 130
    lines = _jsonl(cap.out)  # every line written is complete JSON
    assert [r["start"] for r in lines] == [0.0, 0.25, 0.5]
    assert all(abs(r["sources"][0]["azimuth"] - 60.0) <= 3 for r in lines)
    assert "Traceback" not in cap.err and cap.err.strip() == "soundloc: interrupted"


def test_jsonl_lines_are_flushed_as_they_come(rec, monkeypatch, capsys):
    """Each line reaches stdout before the next window is computed."""
    import soundloc.doa.batch
    from soundloc.doa.base import Localizer

    monkeypatch.setattr(soundloc.doa.batch, "WINDOW_BATCH_BYTES", 1)
    seen_before_call = []
    real = Localizer.locate_batch

    def spy(self, *a, **kw):
        seen_before_call.append(sys.stdout.getvalue().count("\n"))  # capsys' buffer
        return real(self, *a, **kw)

    monkeypatch.setattr(Localizer, "locate_batch", spy)
    assert main(["localize", str(rec), "--array", "circular4", "--frame-length", "1", "--format", "jsonl"]) == 0
    assert seen_before_call == [0, 1, 2, 3]
    assert len(_jsonl(capsys.readouterr().out)) == 4


def test_nan_mid_file_keeps_earlier_windows_and_names_the_time(tmp_path, capsys, monkeypatch):
    x = _scene(3 * FS)
    x[1, int(2.5 * FS)] = np.inf
    f = _write(tmp_path / "late_nan.wav", x)
    _count_blocks(monkeypatch, FS)
    code = main(["localize", str(f), "--array", "circular4", "--frame-length", "0.5", "--format", "jsonl"])
    out = _one_line(capsys, "late_nan.wav", "NaN/inf sample at 2.500 s")
    assert code == 1
    assert [r["start"] for r in _jsonl(out)] == [0.0, 0.5, 1.0, 1.5]  # the windows read before the bad block


def test_silent_long_file_refused_with_no_output(tmp_path, capsys, monkeypatch):
    f = _write(tmp_path / "quiet.wav", np.zeros((4, 3 * FS), np.float32))
    _count_blocks(monkeypatch, FS)
    assert main(["localize", str(f), "--array", "circular4", "--frame-length", "0.5", "--format", "jsonl"]) == 1
    assert _one_line(capsys, "quiet.wav: silent") == ""


def test_short_file_note(rec, tmp_path, capsys):
    f = _write(tmp_path / "short.wav", _scene(8000))
    assert main(["localize", str(f), "--array", "circular4", "--frame-length", "2", "--format", "json"]) == 0
    cap = capsys.readouterr()
    assert cap.err.strip() == f"soundloc localize: note: {f}: 0.50 s long, shorter than the 2 s window: one window"
    assert len(json.loads(cap.out)) == 1


# ---------------------------------------------------------------------------
# option limits: one line naming the option and the limit, exit 2, nothing on stdout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, must",
    [
        (["--nfft", "1000000"], ["--nfft", "65536"]),
        (["--fs", "2000000000"], ["--fs", "768000"]),
        (["--fs", "2e9"], ["--fs", "2e+09"]),
        (["--fs", "16000.5"], ["--fs", "16000.5"]),
        (["--frame-length", "1e9"], ["--frame-length", "600 s"]),
        (["--frame-length", "inf"], ["--frame-length", "inf"]),
        (["--frame-length", "nan"], ["--frame-length", "nan"]),
        (["--frame-length", "1", "--hop", "inf"], ["--hop", "inf"]),
        (["--frame-length", "1", "--hop", "1e9"], ["--hop", "600 s"]),
        (["--fmin", "nan"], ["--fmin", "nan"]),
        (["--fmax", "inf"], ["--fmax", "inf"]),
        (["--min-separation", "inf"], ["--min-separation"]),
        (["--channels", "0-99999999"], ["--channels", "1024"]),
        (["--fmax", "9000"], ["--fmax 9000", "Nyquist", "16000 Hz"]),
        (["--fs", "1"], ["at 1 Hz, --fs"]),
        (["--fs", "8000", "--fmax", "6000"], ["--fmax 6000", "4000 Hz", "--fs"]),
    ],
)
def test_option_limits_are_usage_errors(rec, args, must, capsys):
    t0 = time.perf_counter()
    code = main(["localize", str(rec), "--array", "circular4", *args])
    assert time.perf_counter() - t0 < 5  # no hang (--channels 0-99999999 used to be quadratic)
    assert code == 2
    assert _one_line(capsys, *must) == ""


def test_rate_error_reported_once_for_many_files(tmp_path, capsys):
    files = [str(_write(tmp_path / f"r{i}.wav", _scene(4000, seed=i))) for i in range(4)]
    assert main(["localize", *files, "--array", "circular4", "--fmax", "9000", "--progress", "never"]) == 2
    assert _one_line(capsys, "--fmax 9000", "r0.wav") == ""


def test_channels_parsing_is_linear_and_checked_against_the_file(rec, capsys):
    from soundloc.cli.localize import parse_channels

    t0 = time.perf_counter()
    assert parse_channels("0-1023") == list(range(1024))
    with pytest.raises(ValueError, match="more than 1024"):
        parse_channels("0-10,5-99999999")
    with pytest.raises(ValueError, match="channel 5 is selected twice"):
        parse_channels("0-10,5")
    assert time.perf_counter() - t0 < 1
    # a channel the file does not have: named from the header, before anything is decoded
    assert main(["localize", str(rec), "--array", "circular4", "--channels", "1-4"]) == 1
    _one_line(capsys, "rec.wav: has 4 channels (0 to 3), cannot select channel 4")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_plot_to_an_unwritable_place_names_the_users_path(rec, capsys):
    code = main(["localize", str(rec), "--array", "circular4", "--plot", "/proc/p.png"])
    assert code == 2
    line = _one_line(capsys, "--plot", "/proc/p.png")
    assert ".tmp" not in line
    assert not list(Path("/proc").glob(".p.png*"))


def test_plot_into_a_read_only_folder(rec, tmp_path, capsys, monkeypatch):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **kw: False if Path(p) == ro else real(p, mode, *a, **kw))
    assert main(["localize", str(rec), "--array", "circular4", "--plot", str(ro / "sub" / "p.png")]) == 2
    assert _one_line(capsys, "--plot", str(ro / "sub" / "p.png"), "no write permission") == ""
    assert list(ro.iterdir()) == []


def test_long_file_whole_mode_with_a_method_that_cannot_accumulate(rec, monkeypatch):
    import soundloc.doa
    import soundloc.doa.batch
    from soundloc.doa.base import Localizer
    from soundloc.doa.batch import iter_localize

    class Peaky(Localizer):  # its spectrum is not a function of per-bin frame sums
        name = "peaky"

        def _spectrum(self, X, num_sources):
            return X.abs().amax((1, 2, 3))[:, None].expand(-1, len(self.grid)).float()

    monkeypatch.setitem(soundloc.doa.LOCALIZERS, "peaky", Peaky)
    monkeypatch.setattr(soundloc.doa.batch, "STREAM_BYTES", 10_000)
    arr = MicArray.preset("circular4")
    evs = list(iter_localize([rec], arr, ["srp-phat", "peaky"]))
    # the method that cannot accumulate skips the file (an error); the other still gives its result
    assert [e.kind for e in evs] == ["error", "result"] and evs[1].result.method == "srp-phat"
    assert "rec.wav: too long for whole-file peaky" in evs[0].message and "--frame-length" in evs[0].message
    assert [e.kind for e in iter_localize([rec], arr, ["peaky"])] == ["error"]
    # in windows it works; the whole-file results beside them (for plots) leave it out
    evs = list(iter_localize([rec], arr, ["srp-phat", "peaky"], frame_length=1.0, keep_whole=True))
    assert sorted({(e.kind, e.result.method) for e in evs}) == [("result", "peaky"), ("result", "srp-phat"), ("whole", "srp-phat")]
