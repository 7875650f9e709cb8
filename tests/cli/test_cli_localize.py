"""`soundloc localize` through `main([...])`: results, batching, output formats, plots, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundloc.cli import main
from soundloc.cli.localize import format_table, plot_paths
from soundloc.geometry import MicArray, unit_vectors_deg
from soundloc.metrics.doa import azimuth_error_deg

FS = 16000


def _plane_waves(array: MicArray, fs: int, n: int, azimuths, seed: int, gains=None) -> np.ndarray:
    """(M, n) free-field mixture of white-noise plane waves from ``azimuths`` (degrees, el 0).

    Delays are applied exactly in the frequency domain (circular), so the true direction is
    known to floating-point precision.
    """
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n, 1 / fs)
    out = np.zeros((array.num_mics, n))
    for k, az in enumerate(azimuths):
        s = np.fft.rfft(rng.standard_normal(n))
        tau = array.delays(unit_vectors_deg(az, 0.0))[0]
        g = 1.0 if gains is None else gains[k]
        out += g * np.fft.irfft(s[None] * np.exp(-2j * np.pi * f[None] * tau[:, None]), n=n)
    out += 0.01 * rng.standard_normal(out.shape)
    return 0.3 * out / np.abs(out).max()


def _write(path: Path, x: np.ndarray, fs: int = FS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.T, fs, subtype="FLOAT")
    return path


# file name -> (azimuth, seconds, sample rate)
SCENES = {
    "a.wav": (30.0, 0.5, FS),
    "b.wav": (-100.0, 0.5, FS),
    "c.wav": (150.0, 0.5, FS),
    "d.wav": (-170.0, 0.5, FS),
    "e.wav": (75.0, 1.0, FS),
    "f.wav": (0.0, 1.0, FS),
}


@pytest.fixture(scope="module")
def recs(tmp_path_factory) -> dict[str, Path]:
    """Six good 4-channel recordings (two lengths) in one folder."""
    root = tmp_path_factory.mktemp("recs")
    arr = MicArray.preset("circular4")
    out = {}
    for i, (name, (az, dur, fs)) in enumerate(SCENES.items()):
        out[name] = _write(root / "good" / name, _plane_waves(arr, fs, int(dur * fs), [az], seed=i), fs)
    return out


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    """Bad inputs, each with one problem."""
    root = tmp_path_factory.mktemp("bad")
    arr = MicArray.preset("circular4")
    x = _plane_waves(arr, FS, FS // 2, [20.0], seed=9)
    files = {
        "stereo": _write(root / "stereo.wav", x[:2]),
        "rate8k": _write(root / "rate8k.wav", _plane_waves(arr, 8000, 4000, [20.0], seed=9), 8000),
        "silent": _write(root / "silent.wav", np.zeros_like(x)),
        "nan": _write(root / "nan.wav", np.where(np.arange(x.shape[1]) == 100, np.nan, x)),
        "empty": root / "empty.wav",
        "noframes": root / "noframes.wav",
        "garbage": root / "garbage.wav",
    }
    files["empty"].write_bytes(b"")
    sf.write(str(files["noframes"]), np.zeros((0, 4)), FS)
    files["garbage"].write_bytes(b"RIFF not really a wave file" * 10)
    bad_json = root / "bad_array.json"
    bad_json.write_text('{"name": "x", "positions": [[0, 0, 0], [0.1, 0')
    files["bad_json"] = bad_json
    return files


def _one_line_error(capsys, *must_contain: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("soundloc localize: error: ")
    for s in must_contain:
        assert s in lines[0], lines[0]
    return lines[0]


def _json(capsys) -> list[dict]:
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def test_json_output_one_object_per_file_and_method(recs, capsys):
    files = [str(recs["a.wav"]), str(recs["e.wav"])]
    code = main(["localize", *files, "--array", "circular4", "--method", "all", "--format", "json",
                 "--progress", "never"])
    assert code == 0
    recsj = _json(capsys)
    methods = ["gcc-phat", "srp-phat", "music", "normmusic"]
    assert [(r["file"], r["method"]) for r in recsj] == [(f, m) for f in files for m in methods]
    for r in recsj:
        assert set(r) == {"file", "start", "end", "method", "decision", "level_dbfs", "sources", "rejected"}
        name = Path(r["file"]).name
        az, dur, _ = SCENES[name]
        assert r["start"] == 0.0 and r["end"] == pytest.approx(dur)
        assert len(r["sources"]) == 1 and set(r["sources"][0]) == {"azimuth", "elevation", "power", "confidence", "decision"}
        assert azimuth_error_deg(r["sources"][0]["azimuth"], az) <= 2.0, r
        assert r["sources"][0]["elevation"] == 0.0


def test_two_sources_and_table(tmp_path, capsys):
    arr = MicArray.preset("circular4")
    f = _write(tmp_path / "two.wav", _plane_waves(arr, FS, FS, [40.0, -110.0], seed=3, gains=[1.0, 0.9]))
    code = main(["localize", str(f), "--array", "circular4", "--sources", "2", "--method", "music"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    header = out[0]
    assert header.split() == ["file", "method", "start", "end", "src", "azimuth", "elevation", "power", "conf"]
    assert len(out) == 3
    # aligned columns: every number ends where its header ends
    for col in ("azimuth", "elevation", "power", "end"):
        end = header.index(col) + len(col)
        for line in out[1:] if col != "end" else out[1:2]:
            assert line[end - 1] != " " and (len(line) == end or line[end] == " "), (col, line)
    first, second = out[1].split(), out[2].split()
    assert first[0] == str(f) and first[1] == "music" and first[4] == "1"
    assert second[0] == "2"  # continuation row: file / method / times not repeated
    found = sorted([float(first[5]), float(second[1])])
    assert azimuth_error_deg(found[0], -110.0) <= 2 and azimuth_error_deg(found[1], 40.0) <= 2


def test_folder_input_batches_and_matches_single_calls(recs, capsys, monkeypatch):
    import soundloc.doa
    from soundloc.doa.base import Localizer

    builds, batches = [], []
    real_get, real_batch = soundloc.doa.get_localizer, Localizer.locate_batch

    def counting_get(name, array, fs, **kw):
        builds.append((name, fs))
        return real_get(name, array, fs, **kw)

    def counting_batch(self, x, *a, **kw):
        batches.append((self.name, x.shape))
        return real_batch(self, x, *a, **kw)

    monkeypatch.setattr(soundloc.doa, "get_localizer", counting_get)
    monkeypatch.setattr(Localizer, "locate_batch", counting_batch)
    folder = recs["a.wav"].parent
    code = main(["localize", str(folder), str(recs["a.wav"]), "--array", "circular4", "--method", "srp-phat,music",
                 "--format", "json", "--progress", "never"])
    assert code == 0
    batch = _json(capsys)
    # folder expanded and sorted, the repeated file not processed twice
    assert [Path(r["file"]).name for r in batch] == [n for n in sorted(SCENES) for _ in range(2)]
    # one localizer per method and rate; one locate_batch per method and clip length
    assert sorted(builds) == [("music", FS), ("srp-phat", FS)]
    assert sorted(batches) == sorted([(m, (k, 4, int(d * FS))) for m in ("srp-phat", "music") for k, d in ((4, 0.5), (2, 1.0))])
    for r in batch:
        assert azimuth_error_deg(r["sources"][0]["azimuth"], SCENES[Path(r["file"]).name][0]) <= 2.0
    # the batch gives exactly what one-file calls give
    monkeypatch.undo()
    for name in ("b.wav", "f.wav"):
        assert main(["localize", str(recs[name]), "--array", "circular4", "--method", "srp-phat,music",
                     "--format", "json"]) == 0
        single = _json(capsys)
        assert single == [r for r in batch if Path(r["file"]).name == name]


def test_mixed_sample_rates(tmp_path, capsys, monkeypatch):
    import soundloc.doa

    arr = MicArray.preset("circular4")
    f16 = _write(tmp_path / "r16.wav", _plane_waves(arr, 16000, 8000, [60.0], seed=4), 16000)
    f48 = _write(tmp_path / "r48.wav", _plane_waves(arr, 48000, 24000, [-45.0], seed=5), 48000)
    builds = []
    real_get = soundloc.doa.get_localizer
    monkeypatch.setattr(soundloc.doa, "get_localizer", lambda n, a, fs, **kw: builds.append(fs) or real_get(n, a, fs, **kw))
    assert main(["localize", str(f16), str(f48), "--array", "circular4", "--format", "json"]) == 0
    res = _json(capsys)
    assert sorted(builds) == [16000, 48000]  # each file at its own rate
    assert azimuth_error_deg(res[0]["sources"][0]["azimuth"], 60.0) <= 2
    assert azimuth_error_deg(res[1]["sources"][0]["azimuth"], -45.0) <= 2
    assert res[1]["end"] == pytest.approx(0.5)
    builds.clear()
    assert main(["localize", str(f16), str(f48), "--array", "circular4", "--format", "json", "--fs", "16000"]) == 0
    res = _json(capsys)
    assert builds == [16000]  # resampled to one rate: one localizer
    assert azimuth_error_deg(res[1]["sources"][0]["azimuth"], -45.0) <= 2
    assert res[1]["end"] == pytest.approx(0.5)


def test_frame_windows(recs, capsys):
    f = str(recs["e.wav"])  # 1 s
    assert main(["localize", f, "--array", "circular4", "--frame-length", "0.25", "--format", "json"]) == 0
    res = _json(capsys)
    assert [r["start"] for r in res] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert [r["end"] for r in res] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(azimuth_error_deg(r["sources"][0]["azimuth"], 75.0) <= 3 for r in res)
    assert main(["localize", f, "--array", "circular4", "--frame-length", "0.5", "--hop", "0.25",
                 "--method", "srp-phat,gcc-phat", "--format", "json"]) == 0
    res = _json(capsys)
    assert [(r["method"], r["start"]) for r in res] == [(m, s) for m in ("srp-phat", "gcc-phat") for s in (0.0, 0.25, 0.5)]


def test_options_reach_the_localizer(recs, capsys, monkeypatch):
    import soundloc.doa

    seen = {}
    real_get = soundloc.doa.get_localizer

    def spy(name, array, fs, **kw):
        loc = real_get(name, array, fs, **kw)
        seen.update(fmin=loc.fmin, fmax=loc.fmax, nfft=loc.nfft, grid=len(loc.grid))
        return loc

    monkeypatch.setattr(soundloc.doa, "get_localizer", spy)
    assert main(["localize", str(recs["a.wav"]), "--array", "circular4", "--fmin", "500", "--fmax", "3000",
                 "--nfft", "256", "--grid", "3d", "--format", "json"]) == 0
    res = _json(capsys)
    assert seen == {"fmin": 500.0, "fmax": 3000.0, "nfft": 256, "grid": 2000}  # planar: upper hemisphere
    s = res[0]["sources"][0]
    assert azimuth_error_deg(s["azimuth"], 30.0) <= 5 and 0 <= s["elevation"] <= 90


def test_default_grid_is_3d_for_a_3d_array(tmp_path, capsys):
    # An elevated source seen by the tetrahedral array: on the horizontal 1-degree circle the
    # vertical delay component cannot be matched and SRP-PHAT's azimuth lands ~50-90 degrees off.
    # The default (--grid auto) must search the sphere for a 3-D array and keep 2d for planar ones.
    arr = MicArray.preset("tetra")
    rng = np.random.default_rng(11)
    n, truth = FS, [(60.0, 45.0), (-120.0, -35.0)]
    f = np.fft.rfftfreq(n, 1 / FS)
    files = []
    for k, (az, el) in enumerate(truth):
        tau = arr.delays(unit_vectors_deg(az, el))[0]
        x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(-2j * np.pi * f[None] * tau[:, None]), n=n)
        files.append(str(_write(tmp_path / f"t{k}.wav", 0.3 * x / np.abs(x).max())))
    assert main(["localize", *files, "--array", "tetra", "--format", "json", "--progress", "never"]) == 0
    res = _json(capsys)
    for r, (az, el) in zip(res, truth):
        s = r["sources"][0]
        assert azimuth_error_deg(s["azimuth"], az) <= 4.0 and abs(s["elevation"] - el) <= 4.0, (r, az, el)
    from soundloc.doa.batch import resolve_grid_dims

    assert resolve_grid_dims("auto", arr) == 3 and resolve_grid_dims("2d", arr) == 2
    assert resolve_grid_dims("auto", MicArray.preset("circular4")) == 2


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------


def _is_png(p: Path) -> bool:
    return p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_single_and_many(recs, tmp_path, capsys):
    out = tmp_path / "plots" / "doa.png"
    assert main(["localize", str(recs["a.wav"]), "--array", "circular4", "--method", "all", "--plot", str(out)]) == 0
    assert _is_png(out)
    assert str(out) in capsys.readouterr().err
    many = tmp_path / "many" / "doa.png"
    assert main(["localize", str(recs["a.wav"]), str(recs["b.wav"]), "--array", "circular4", "--plot", str(many)]) == 0
    assert sorted(p.name for p in many.parent.iterdir()) == ["doa_a.png", "doa_b.png"]
    assert all(_is_png(p) for p in many.parent.iterdir())
    frames = tmp_path / "frames" / "t.png"
    assert main(["localize", str(recs["e.wav"]), "--array", "circular4", "--frame-length", "0.25",
                 "--plot", str(frames)]) == 0
    assert _is_png(frames) and _is_png(frames.with_name("t_time.png"))


def test_plot_paths_names():
    files = [Path("x/rec.wav"), Path("y/rec.wav"), Path("z/other.flac")]
    assert plot_paths("out/p.png", files) == [Path("out/p_rec.png"), Path("out/p_rec-2.png"), Path("out/p_other.png")]
    assert plot_paths("p.svg", files[:1]) == [Path("p.svg")]


def test_format_table_without_sources_and_nan():
    recs = [{"file": "f.wav", "method": "music", "start": 0.0, "end": 1.0, "sources": []},
            {"file": "g.wav", "method": "music", "start": 0.0, "end": None,
             "sources": [{"azimuth": None, "elevation": 0.0, "power": 1.0}]}]
    lines = format_table(recs).splitlines()
    assert len(lines) == 3 and lines[1].split()[-4:] == ["-", "-", "-", "-"]
    assert "nan" in lines[2]


# ---------------------------------------------------------------------------
# errors: one line on stderr, no traceback, non-zero exit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, extra, must",
    [
        ("stereo", [], ["stereo.wav", "2 channels", "needs 4"]),
        ("rate8k", ["--fs", "16000", "--no-resample"], ["rate8k.wav", "8000 Hz", "16000"]),
        ("silent", [], ["silent.wav", "silent"]),
        ("nan", [], ["nan.wav", "NaN"]),
        ("empty", [], ["empty.wav", "empty"]),
        ("noframes", [], ["noframes.wav"]),
        ("garbage", [], ["garbage.wav"]),
    ],
)
def test_bad_file(bad, key, extra, must, capsys):
    code = main(["localize", str(bad[key]), "--array", "circular4", "--format", "json", *extra])
    assert code == 1
    _one_line_error(capsys, *must)
    code = main(["localize", str(bad[key]), "--array", "circular4", "--strict", *extra])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize(
    "args, must",
    [
        (["--array", "nosuch"], ["unknown array 'nosuch'", "circular4"]),
        (["--array", "circular4", "--method", "beamformit"], ["unknown method 'beamformit'", "srp-phat"]),
        (["--array", "circular4", "--method", "srp-phat,foo"], ["unknown method 'foo'"]),
        (["--array", "circular4", "--no-resample"], ["--no-resample needs --fs"]),
        (["--array", "circular4", "--sources", "0"], ["--sources"]),
        (["--array", "circular4", "--frame-length", "-1"], ["--frame-length"]),
        (["--array", "circular4", "--hop", "0.1"], ["--hop needs --frame-length"]),
        (["--array", "circular4", "--plot", "out.txt"], ["--plot", ".txt"]),
        (["--array", "circular4", "--fmin", "4000", "--fmax", "1000"], ["--fmin"]),
        (["--array", "circular4", "--device", "cuda"], ["--device cuda"]),
        (["--array", "circular4", "--device", "toaster"], ["unknown device"]),
        (["--array", "tetra", "--fmax", "9000"], ["--fmax 9000", "Nyquist", "16000 Hz", "a.wav"]),  # per rate: a usage error
    ],
)
def test_bad_options(recs, args, must, capsys):
    code = main(["localize", str(recs["a.wav"]), *args])
    assert code == 2
    _one_line_error(capsys, *must)


def test_malformed_array_json_and_missing_path(bad, recs, tmp_path, capsys):
    assert main(["localize", str(recs["a.wav"]), "--array", str(bad["bad_json"])]) == 2
    _one_line_error(capsys, "bad_array.json", "not valid JSON")
    assert main(["localize", str(recs["a.wav"]), "--array", str(tmp_path / "nope.json")]) == 2
    _one_line_error(capsys, "nope.json", "does not exist")
    assert main(["localize", str(tmp_path / "missing.wav"), "--array", "circular4"]) == 1
    _one_line_error(capsys, "missing.wav", "no such file")
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    assert main(["localize", str(empty_dir), "--array", "circular4"]) == 1
    _one_line_error(capsys, "no audio files")


def test_plot_path_under_a_file(recs, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["localize", str(recs["a.wav"]), "--array", "circular4", "--plot", str(blocker / "sub" / "p.png")]) == 2
    _one_line_error(capsys, "--plot", "not a folder")
    assert capsys.readouterr().out == ""  # checked before any work


def test_one_bad_file_among_many(recs, bad, capsys):
    good = [str(recs[n]) for n in ("a.wav", "b.wav", "e.wav")]
    args = ["localize", good[0], str(bad["stereo"]), good[1], good[2], "--array", "circular4", "--format", "json",
            "--progress", "never"]
    # default: report the bad file, localize the others, exit 1
    assert main(args) == 1
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert [r["file"] for r in res] == good
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "stereo.wav" in err[0] and "Traceback" not in captured.err
    # --strict: stop at the first bad file, print no results, exit 2
    assert main(args + ["--strict"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "stereo.wav" in captured.err


def test_progress_bar_on_stderr(recs, capsys, monkeypatch):
    files = [str(p) for p in recs.values()]
    assert main(["localize", *files, "--array", "circular4", "--format", "json"]) == 0
    assert capsys.readouterr().err == ""  # auto: stderr is not a terminal (e.g. 2>log): no bar frames
    assert main(["localize", *files, "--array", "circular4", "--format", "json", "--progress", "always"]) == 0
    captured = capsys.readouterr()
    assert "localize" in captured.err and "file" in captured.err  # tqdm bar
    assert len(json.loads(captured.out)) == len(files)  # stdout stays clean JSON
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert main(["localize", *files, "--array", "circular4", "--format", "json"]) == 0
    assert "localize" in capsys.readouterr().err  # auto on a terminal, >= 4 files: a bar
    assert main(["localize", *files[:2], "--array", "circular4", "--format", "json"]) == 0
    assert capsys.readouterr().err == ""  # few files: no bar
    assert main(["localize", *files, "--array", "circular4", "--format", "json", "--progress", "never"]) == 0
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------
# --channels: pick the array's mics out of a device's extra channels
# ---------------------------------------------------------------------------

RESPEAKER_AZ = 70.0


@pytest.fixture(scope="module")
def six_ch(tmp_path_factory) -> dict[str, Path]:
    """ReSpeaker-USB-like 6-channel files: 0 unrelated noise, 1-4 the respeaker4 mics, 5 noise or silent."""
    root = tmp_path_factory.mktemp("six")
    arr = MicArray.preset("respeaker4")
    mics = _plane_waves(arr, FS, FS // 2, [RESPEAKER_AZ], seed=21)
    rng = np.random.default_rng(22)
    noisy = np.concatenate([0.3 * rng.standard_normal((1, mics.shape[1])), mics,
                            0.3 * rng.standard_normal((1, mics.shape[1]))])
    silent_ref = noisy.copy()
    silent_ref[5] = 0.0  # a playback reference with nothing playing
    return {"noisy": _write(root / "resp6.wav", noisy), "silent_ref": _write(root / "resp6_quiet.wav", silent_ref)}


@pytest.mark.parametrize("spec", ["1-4", "1,2,3,4", " 1 - 2 , 3,4 "])
def test_channels_select_the_mics(six_ch, spec, capsys):
    for f in six_ch.values():
        code = main(["localize", str(f), "--array", "respeaker4", "--channels", spec, "--method", "srp-phat,music",
                     "--format", "json"])
        assert code == 0, capsys.readouterr().err
        for r in _json(capsys):
            assert r["file"] == str(f)
            assert azimuth_error_deg(r["sources"][0]["azimuth"], RESPEAKER_AZ) <= 2.0, r


def test_channels_order_is_the_arrays_mic_order(six_ch, capsys):
    # respeaker4 is a square: feeding mic k the signal of mic k+1 (at +90 deg) turns the scene by -90 deg
    assert main(["localize", str(six_ch["noisy"]), "--array", "respeaker4", "--channels", "2,3,4,1",
                 "--format", "json"]) == 0
    az = _json(capsys)[0]["sources"][0]["azimuth"]
    assert azimuth_error_deg(az, RESPEAKER_AZ - 90.0) <= 2.0, az


def test_six_channels_without_channels_is_a_bad_file(six_ch, capsys):
    assert main(["localize", str(six_ch["noisy"]), "--array", "respeaker4", "--format", "json"]) == 1
    _one_line_error(capsys, "resp6.wav", "6 channels", "needs 4", "--channels")
    assert main(["localize", str(six_ch["noisy"]), "--array", "respeaker4", "--strict"]) == 2
    _one_line_error(capsys, "resp6.wav", "6 channels")


@pytest.mark.parametrize(
    "spec, must",
    [
        ("a", ["--channels", "'a'"]),
        ("1-a", ["--channels", "'1-a'"]),
        ("-1,1,2,3", ["--channels", "'-1'"]),
        ("4-1", ["--channels", "'4-1'", "goes down"]),
        ("1,2,2,3", ["--channels", "channel 2", "twice"]),
        ("1-4,3", ["--channels", "channel 3", "twice"]),
        ("1-3", ["--channels", "3 channels", "'respeaker4' has 4 mics"]),
        ("0-5", ["--channels", "6 channels", "'respeaker4' has 4 mics"]),
        ("", ["--channels", "no channels"]),
    ],
)
def test_bad_channel_specs(six_ch, spec, must, capsys):
    code = main(["localize", str(six_ch["noisy"]), "--array", "respeaker4", f"--channels={spec}"])
    assert code == 2
    _one_line_error(capsys, *must)
    assert capsys.readouterr().out == ""


def test_channel_out_of_range_names_the_file(six_ch, recs, capsys):
    args = ["localize", str(six_ch["noisy"]), "--array", "respeaker4", "--channels", "3-6", "--format", "json"]
    assert main(args) == 1
    _one_line_error(capsys, "resp6.wav", "has 6 channels", "channel 6")
    assert main(args + ["--strict"]) == 2
    _one_line_error(capsys, "resp6.wav", "channel 6")
    # a good file next to one with too few channels: the good one is localized
    assert main(["localize", str(six_ch["noisy"]), str(recs["a.wav"]), "--array", "respeaker4",
                 "--channels", "1-4", "--format", "json", "--progress", "never"]) == 1
    captured = capsys.readouterr()
    assert [r["file"] for r in json.loads(captured.out)] == [str(six_ch["noisy"])]
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "a.wav" in err[0] and "channel 4" in err[0]


def test_selected_channels_are_still_checked(tmp_path, capsys):
    arr = MicArray.preset("respeaker4")
    mics = _plane_waves(arr, FS, FS // 4, [10.0], seed=5)
    junk = 0.1 * np.ones((1, FS // 4))
    junk[0, 100] = np.nan  # an unused channel may hold anything
    f = _write(tmp_path / "nan_ch0.wav", np.concatenate([junk, mics, np.zeros((1, FS // 4))]))
    assert main(["localize", str(f), "--array", "respeaker4", "--channels", "1-4", "--format", "json"]) == 0
    assert azimuth_error_deg(_json(capsys)[0]["sources"][0]["azimuth"], 10.0) <= 2.0
    assert main(["localize", str(f), "--array", "respeaker4", "--channels", "0-3", "--format", "json"]) == 1
    _one_line_error(capsys, "nan_ch0.wav", "NaN")
    assert main(["localize", str(f), "--array", "respeaker4", "--channels", "1-4", "--fs", "8000",
                 "--no-resample"]) == 1
    _one_line_error(capsys, "nan_ch0.wav", "16000 Hz", "8000")
    assert main(["localize", str(f), "--array", "respeaker4", "--channels", "1-4", "--fs", "8000",
                 "--format", "json"]) == 0
    assert azimuth_error_deg(_json(capsys)[0]["sources"][0]["azimuth"], 10.0) <= 2.0


def test_parse_channels():
    from soundloc.cli.localize import parse_channels

    assert parse_channels("1-4") == [1, 2, 3, 4]
    assert parse_channels("0,2-3, 5") == [0, 2, 3, 5]
    assert parse_channels("7,0") == [7, 0]
    assert parse_channels("3-3") == [3]


# ---------------------------------------------------------------------------
# linear arrays: --grid auto searches the front half-plane only
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_array_two_sources_not_mirrors(tmp_path, seed, capsys):
    # on the full circle, the second peak was often the mirror image (150 or -140) of the first
    arr = MicArray.preset("linear4")
    f = _write(tmp_path / "lin.wav", _plane_waves(arr, FS, FS, [30.0, -40.0], seed=seed))
    assert main(["localize", str(f), "--array", "linear4", "--sources", "2", "--method", "all",
                 "--format", "json"]) == 0
    for r in _json(capsys):
        found = sorted(s["azimuth"] for s in r["sources"])
        assert azimuth_error_deg(found[0], -40.0) <= 2.0 and azimuth_error_deg(found[1], 30.0) <= 2.0, r


def test_stereo_front_not_back(tmp_path, capsys):
    arr = MicArray.preset("stereo")
    f = _write(tmp_path / "st.wav", _plane_waves(arr, FS, FS // 2, [50.0], seed=4))
    assert main(["localize", str(f), "--array", "stereo", "--method", "all", "--format", "json"]) == 0
    for r in _json(capsys):
        assert azimuth_error_deg(r["sources"][0]["azimuth"], 50.0) <= 2.0, r
    # asking for a second source must not return the mirror image 130 of the first
    assert main(["localize", str(f), "--array", "stereo", "--sources", "2", "--format", "json"]) == 0
    azs = [s["azimuth"] for s in _json(capsys)[0]["sources"]]
    assert azimuth_error_deg(azs[0], 50.0) <= 2.0
    assert all(-90.0 <= a <= 90.0 for a in azs), azs
    # --grid 2d keeps the full circle (the user asked for it): the mirror comes back as source 2
    assert main(["localize", str(f), "--array", "stereo", "--sources", "2", "--grid", "2d", "--format", "json"]) == 0
    azs = sorted(s["azimuth"] for s in _json(capsys)[0]["sources"])
    assert azimuth_error_deg(azs[0], 50.0) <= 2.0 and azimuth_error_deg(azs[1], 130.0) <= 2.0, azs


def test_resolve_grid(tmp_path):
    from soundloc.doa.batch import resolve_grid
    from soundloc.geometry import AzimuthArcGrid, AzimuthGrid, SphereGrid

    for name in ("linear4", "stereo"):
        g = resolve_grid("auto", MicArray.preset(name))
        assert isinstance(g, AzimuthArcGrid) and len(g) == 181
        assert g.azimuth_deg.min() == pytest.approx(-90.0) and g.azimuth_deg.max() == pytest.approx(90.0)
        full = resolve_grid("2d", MicArray.preset(name))
        assert type(full) is AzimuthGrid and len(full) == 360
    along_x = MicArray("x", [[-0.1, 0, 0], [0.0, 0, 0], [0.1, 0, 0]])
    g = resolve_grid("auto", along_x)
    assert isinstance(g, AzimuthArcGrid) and g.azimuth_deg.min() == pytest.approx(0.0)
    assert g.azimuth_deg.max() == pytest.approx(180.0)
    assert type(resolve_grid("auto", MicArray.preset("circular4"))) is AzimuthGrid
    assert isinstance(resolve_grid("auto", MicArray.preset("tetra")), SphereGrid)
    vertical = MicArray("v", [[0, 0, 0], [0, 0, 0.1]])
    assert isinstance(resolve_grid("auto", vertical), SphereGrid)


@pytest.mark.parametrize("key, must", [("empty", ["empty.wav", "empty"]), ("garbage", ["garbage.wav", "decode"]),
                                       ("noframes", ["noframes.wav", "no samples"])])
def test_bad_file_with_channels(bad, tmp_path, key, must, capsys):
    assert main(["localize", str(bad[key]), "--array", "circular4", "--channels", "0-3", "--format", "json"]) == 1
    _one_line_error(capsys, *must)
    assert main(["localize", str(tmp_path / "missing.wav"), "--array", "circular4", "--channels", "0-3"]) == 1
    _one_line_error(capsys, "missing.wav", "no such file")
