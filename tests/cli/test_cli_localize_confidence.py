"""`soundloc localize`: confidence, "no source" windows (--min-confidence, --min-level) and notices
for silently capped requests."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from soundloc.cli import main
from soundloc.geometry import MicArray, unit_vectors_deg
from soundloc.scenes.mix import diffuse_noise

FS = 16000
ARR = MicArray.preset("circular4")


def _plane_wave(n: int, az: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n, 1 / FS)
    tau = ARR.delays(unit_vectors_deg(az, 0.0))[0]
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(-2j * np.pi * f[None] * tau[:, None]), n=n)


def _write(path, x: np.ndarray, peak: float | None = 0.3, subtype: str | None = None):
    if peak is not None:
        x = peak * x / np.abs(x).max()
    sf.write(str(path), x.T.astype(np.float32), FS, subtype=subtype)
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["localize", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_diffuse_noise_windows_report_no_source_by_default(tmp_path, capsys):
    f = _write(tmp_path / "noise.wav", diffuse_noise(np.random.default_rng(31337), ARR.positions, 4 * FS, FS))
    code, out, err = _run(capsys, str(f), "--array", "circular4", "--frame-length", "0.5", "--format", "json")
    assert code == 0 and err == ""
    recs = json.loads(out)
    assert len(recs) == 8
    # nominal 3 % false alarms: 3 or more of 8 windows has probability < 0.2 %
    assert sum(r["decision"] == "source" for r in recs) <= 2, [r["rejected"] for r in recs]
    for r in recs:
        if r["decision"] == "below-confidence":
            assert r["sources"] == [] and r["rejected"][0]["decision"] == "below-confidence"
            assert 0 <= r["rejected"][0]["confidence"] < 0.97
    # --min-confidence 0: every window reports its peak
    code, out, _ = _run(capsys, str(f), "--array", "circular4", "--frame-length", "0.5", "--format", "json",
                        "--min-confidence", "0")
    assert code == 0 and all(r["decision"] == "source" and len(r["sources"]) == 1 for r in json.loads(out))
    # the table says why there is no source
    code, out, _ = _run(capsys, str(f), "--array", "circular4", "--frame-length", "0.5", "--min-confidence", "1")
    assert code == 0 and out.count("below-confidence") == 8


def test_clear_source_is_reported_with_high_confidence(tmp_path, capsys):
    f = _write(tmp_path / "src.wav", _plane_wave(FS, 75.0, seed=1) + 0.02 * np.random.default_rng(2).standard_normal((4, FS)))
    code, out, _ = _run(capsys, str(f), "--array", "circular4", "--method", "all", "--format", "json")
    assert code == 0
    for r in json.loads(out):
        assert r["decision"] == "source" and r["sources"][0]["confidence"] > 0.99, r
        assert abs(r["sources"][0]["azimuth"] - 75.0) < 3.0
        x, _ = sf.read(str(f))
        assert r["level_dbfs"] == pytest.approx(10 * np.log10(np.mean(x**2)), abs=0.01)  # mean square, dBFS


def test_energy_gate(tmp_path, capsys):
    x = _plane_wave(FS, -30.0, seed=3)
    quiet = _write(tmp_path / "quiet.wav", x / np.sqrt(np.mean(x**2)) * 10 ** (-100 / 20), peak=None, subtype="FLOAT")
    code, out, _ = _run(capsys, str(quiet), "--array", "circular4", "--format", "json")
    (r,) = json.loads(out)
    assert code == 0 and r["decision"] == "below-level" and r["sources"] == []
    assert r["level_dbfs"] == pytest.approx(-100.0, abs=0.1) and r["rejected"][0]["decision"] == "below-level"
    code, out, _ = _run(capsys, str(quiet), "--array", "circular4", "--format", "json", "--min-level=-inf")
    assert json.loads(out)[0]["decision"] == "source"
    loud = _write(tmp_path / "loud.wav", x)
    code, out, _ = _run(capsys, str(loud), "--array", "circular4", "--format", "json", "--min-level", "0")
    assert json.loads(out)[0]["decision"] == "below-level"


@pytest.mark.parametrize("args, must", [(["--min-confidence", "1.5"], "--min-confidence"),
                                        (["--min-confidence", "nan"], "--min-confidence"),
                                        (["--min-level", "nan"], "--min-level")])
def test_bad_thresholds_are_usage_errors(tmp_path, capsys, args, must):
    f = _write(tmp_path / "a.wav", _plane_wave(4000, 0.0, seed=4))
    code, out, err = _run(capsys, str(f), "--array", "circular4", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and must in err and "Traceback" not in err


def test_capped_requests_get_one_line_notices(tmp_path, capsys):
    f = _write(tmp_path / "a.wav", _plane_wave(FS, 10.0, seed=5))
    code, out, err = _run(capsys, str(f), "--array", "circular4", "--sources", "100", "--format", "json")
    assert code == 0
    notes = [ln for ln in err.splitlines() if "note:" in ln]
    assert len(notes) == 1 and "of the 100 requested sources" in notes[0] and len(err.strip().splitlines()) == 1
    (r,) = json.loads(out)
    assert len(r["sources"]) + len(r["rejected"]) < 100
    code, out, err = _run(capsys, str(f), "--array", "circular4", "--frame-length", "10", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 1
    assert len(err.strip().splitlines()) == 1 and "1.00 s long, shorter than the 10 s window" in err and "a.wav" in err
    # nothing capped: no notice
    code, _, err = _run(capsys, str(f), "--array", "circular4", "--frame-length", "0.5", "--sources", "2")
    assert code == 0 and err == ""
