"""soundloc.doa.batch: localizing many files through the library (what `soundloc localize` calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from doa_test_signals import plane_wave, white_noise

from soundloc.doa import get_localizer
from soundloc.doa.batch import expand_inputs, localize_files, resolve_grid, to_records
from soundloc.geometry import AzimuthArcGrid, MicArray, SphereGrid
from soundloc.metrics.doa import azimuth_error_deg

FS = 16000
ARR = MicArray.preset("circular4")


@pytest.fixture()
def folder(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    rng = np.random.default_rng(0)
    truth = {"a.wav": 30.0, "b.wav": -100.0, "sub/c.flac": 150.0}
    for name, az in truth.items():
        x = plane_wave(ARR, az, 0.0, white_noise(FS, rng), FS, FS // 2)
        (tmp_path / name).parent.mkdir(exist_ok=True)
        sf.write(tmp_path / name, (0.3 * x / np.abs(x).max()).T, FS)
    sf.write(tmp_path / "mono.wav", np.zeros(FS // 2) + 0.1, FS)  # wrong channel count
    return tmp_path, truth


def test_localize_files_matches_locate_and_the_truth(folder: tuple[Path, dict[str, float]]) -> None:
    root, truth = folder
    files, missing = expand_inputs([root, root / "a.wav", root / "nope.wav"])
    assert [f.relative_to(root).as_posix() for f in files] == ["a.wav", "b.wav", "mono.wav", "sub/c.flac"]
    assert len(missing) == 1 and "nope.wav" in missing[0]
    seen: list[str] = []
    out = localize_files(files, ARR, ["srp-phat", "gcc-phat"], on_error=seen.append)
    assert out.failed == {2} and len(seen) == 1 and "mono.wav" in seen[0] and "needs 4" in seen[0]
    for i, f in enumerate(files):
        if i == 2:
            assert out.results[i] == []
            continue
        want = truth[f.relative_to(root).as_posix()]
        assert [r.method for r in out.results[i]] == ["srp-phat", "gcc-phat"]
        for r in out.results[i]:
            assert azimuth_error_deg(r.azimuth[0], want) < 2.0
        x, _ = sf.read(f, always_2d=True)
        direct = get_localizer("srp-phat", ARR, FS).locate(x.T.astype(np.float32))
        np.testing.assert_allclose(out.results[i][0].spectrum, direct.spectrum, atol=1e-5)
    recs = to_records(out.files, out.results)
    assert len(recs) == 6 and {"file", "start", "end", "method", "sources"} <= set(recs[0])
    with pytest.raises(ValueError, match="mono.wav"):
        localize_files(files, ARR, ["srp-phat"], strict=True)


def test_frames_and_grids(folder: tuple[Path, dict[str, float]]) -> None:
    root, _ = folder
    out = localize_files([root / "a.wav"], ARR, ["srp-phat"], frame_length=0.2, keep_whole=True)
    assert [(r.start, r.end) for r in out.results[0]] == [(0.0, 0.2), (0.2, 0.4), (0.4, 0.5)]
    assert len(out.whole[0]) == 1
    assert isinstance(resolve_grid("auto", MicArray.preset("linear4")), AzimuthArcGrid)
    assert isinstance(resolve_grid("auto", MicArray.preset("tetra")), SphereGrid)
    with pytest.raises(ValueError, match="unknown grid"):
        resolve_grid("4d", ARR)
