"""Arrays on a rigid sphere: the MicArray baffle field and the fast backend's scattering, tail and noise."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy.signal import csd

from soundloc.geometry import (
    SPEED_OF_SOUND,
    MicArray,
    SphereBaffle,
    array_from_dict,
    get_array,
    unit_vectors_deg,
)
from soundloc.scenes.acoustics import diffuse_coherence
from soundloc.scenes.mix import diffuse_noise
from soundloc.scenes.rir import compute_rirs
from soundloc.scenes.rir_fast import FAST_DELAY_SAMPLES, FastRIRConfig, fast_rirs
from soundloc.scenes.sphere import sphere_diffuse_coherence, sphere_response

A = 0.042
ROOM = [5.0, 6.0, 3.0]


# -- the array option -------------------------------------------------------------------------------


def test_tetra_sphere_preset_is_tetra_on_the_em32_sphere() -> None:
    ts, t = get_array("tetra-sphere"), get_array("tetra")
    assert isinstance(ts, MicArray) and isinstance(t, MicArray)
    assert ts.baffle == SphereBaffle(0.042) and t.baffle is None
    np.testing.assert_array_equal(ts.positions, t.positions)
    assert ts != t and "baffle" not in t.to_dict()  # free-field tetra unchanged
    assert ts.rotated(30.0).baffle == ts.baffle


def test_baffle_json_round_trip(tmp_path) -> None:
    ts = get_array("tetra-sphere")
    assert isinstance(ts, MicArray)
    assert ts.to_dict()["baffle"] == {"type": "sphere", "radius": 0.042}
    assert array_from_dict(ts.to_dict()) == ts
    ts.to_json(tmp_path / "a.json")
    back = get_array(str(tmp_path / "a.json"))
    assert back == ts and hash(back) == hash(ts)
    # the radius follows the file's units
    cm = {"name": "x", "units": "cm", "positions": (ts.positions * 100).tolist(), "baffle": {"type": "sphere", "radius": 4.2}}
    (tmp_path / "cm.json").write_text(json.dumps(cm))
    assert get_array(str(tmp_path / "cm.json")).baffle.radius == pytest.approx(0.042)  # type: ignore[union-attr]


@pytest.mark.parametrize(("baffle", "match"), [
    ({"type": "cube", "radius": 0.04}, "baffle"),
    ({"type": "sphere", "radius": -1}, "radius"),
    ({"type": "sphere", "radius": "big"}, "radius"),
    ({"type": "sphere", "radius": 0.04, "colour": 1}, "colour"),
    ({"type": "sphere", "radius": 0.08}, "not on the sphere"),
])
def test_bad_baffle_is_one_line_value_error(baffle: dict, match: str) -> None:
    pos = get_array("tetra").positions.tolist()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=match) as e:
        MicArray.from_dict({"name": "t", "positions": pos, "baffle": baffle})
    assert "\n" not in str(e.value)


# -- RIRs -------------------------------------------------------------------------------------------


def _direct(fs: int, az: float, el: float, radius: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    arr = get_array("tetra")
    centre = np.array([2.0, 2.5, 1.5])
    u = unit_vectors_deg(az, el)
    src = centre + 2.0 * u
    cfg = FastRIRConfig(tail=False, highpass_hz=0.0)
    h = fast_rirs(ROOM, 0.4, arr.placed(centre), src[None], fs, max_order=0, config=cfg, sphere_radius=radius)[0]
    return h, arr.positions @ u / A, float(np.linalg.norm(src - centre))  # type: ignore[union-attr]


@pytest.mark.parametrize(("az", "el"), [(30.0, 10.0), (-120.0, -40.0)])
def test_direct_path_level_and_phase_differences_match_H(az: float, el: float) -> None:
    fs = 24000
    h, cos_t, d = _direct(fs, az, el, A)
    n = 8192
    f = np.fft.rfftfreq(n, 1 / fs)
    got = np.fft.rfft(h, n).T  # (F, M)
    ref = sphere_response(f, cos_t, A) * np.exp(-2j * np.pi * f * (d / SPEED_OF_SOUND + FAST_DELAY_SAMPLES / fs))[:, None] / d
    band = (f > 100) & (f < 0.8 * fs / 2)
    # absolute (re the free-field pressure at the centre) and relative to mic 0
    assert np.max(np.abs(got[band] - ref[band])) * d < 0.005  # the free-field renderer's own error: 0.0014
    rel, rel_ref = got[band, 1:] / got[band, :1], ref[band, 1:] / ref[band, :1]
    ild = 20 * np.log10(np.abs(rel) / np.abs(rel_ref))
    ipd = np.angle(rel / rel_ref)
    assert np.max(np.abs(ild)) < 0.2 and np.max(np.abs(ipd)) < 0.02
    # ... and the sphere matters: at 8 kHz the facing mic is several dB above the back one
    k = np.argmin(np.abs(f - 8000))
    front, back = np.argmax(cos_t), np.argmin(cos_t)
    assert 20 * np.log10(abs(got[k, front]) / abs(got[k, back])) > 6.0
    hf, _, _ = _direct(fs, az, el, None)
    gf = np.fft.rfft(hf, n).T
    assert abs(20 * np.log10(abs(gf[k, front]) / abs(gf[k, back]))) < 0.5


def test_tail_coherence_is_the_rigid_sphere_diffuse_coherence() -> None:
    fs = 16000
    arr = get_array("tetra-sphere")
    rng = np.random.default_rng(0)
    srcs = np.column_stack([rng.uniform(0.5, 4.5, 12), rng.uniform(0.5, 5.5, 12), rng.uniform(0.5, 2.5, 12)])
    h = fast_rirs(ROOM, 1.2, arr.placed([2.0, 2.5, 1.4]), srcs, fs, seed=0,  # type: ignore[union-attr]
                  config=FastRIRConfig(highpass_hz=0.0), sphere_radius=A)
    x = h[:, :, int(0.08 * fs) : int(0.7 * fs)].astype(np.float64)  # the tail only
    f, sii = csd(x, x, fs=fs, nperseg=128, axis=-1)
    iu = np.triu_indices(4, 1)
    cross = np.stack([csd(x[:, i], x[:, j], fs=fs, nperseg=128, axis=-1)[1] for i, j in zip(*iu)], 1)
    est = cross.real.mean(axis=(0, 1)) / sii.real.mean(axis=(0, 1))  # all tetra pairs share one angle
    theory = sphere_diffuse_coherence(f, arr.positions, A)[:, 0, 1]  # type: ignore[union-attr]
    band = (f > 100) & (f <= 6000)
    assert np.max(np.abs(est - theory)[band]) < 0.05
    free = diffuse_coherence(arr.positions, f)[:, 0, 1]  # type: ignore[union-attr]
    assert np.max(np.abs(est - free)[band]) > 0.2  # the test can tell the two apart


def test_diffuse_noise_on_a_sphere_has_its_coherence() -> None:
    fs, n = 16000, 16000 * 8
    pos = get_array("tetra").positions  # type: ignore[union-attr]
    x = diffuse_noise(np.random.default_rng(1), pos, n, fs, "white", sphere_radius=A)
    f, s01 = csd(x[0], x[1], fs=fs, nperseg=128)
    _, s00 = csd(x[0], x[0], fs=fs, nperseg=128)
    _, s11 = csd(x[1], x[1], fs=fs, nperseg=128)
    est = s01.real / np.sqrt(s00.real * s11.real)
    band = (f > 100) & (f < 7000)
    np.testing.assert_allclose(est[band], sphere_diffuse_coherence(f, pos, A)[band, 0, 1], atol=0.05)


def test_free_field_rirs_are_byte_identical_to_before() -> None:
    # sha256 of the output of the fast backend before the sphere option existed (commit 2adddac)
    arr = get_array("tetra")
    srcs = np.array([[4.0, 1.0, 1.7], [1.0, 4.5, 1.2]])
    a = fast_rirs(ROOM, 0.5, arr.placed([2.0, 2.5, 1.4], 30.0), srcs, 16000, seed=3)  # type: ignore[union-attr]
    b = fast_rirs([4.0, 3.0, 2.7], 0.3, get_array("circular4").placed([2, 1.5, 1.2]), srcs[:1] * 0.7, 24000, seed=1)  # type: ignore[union-attr]
    digest = hashlib.sha256(a.tobytes() + b.tobytes()).hexdigest()
    assert digest == "e97c0a1352b47df027d16a2b09f29bcd242630901f9bff474203c0a3945613af"


def test_compute_rirs_baffle_arguments() -> None:
    arr = get_array("tetra-sphere")
    mics = arr.placed([2.0, 2.5, 1.4])  # type: ignore[union-attr]
    src = np.array([[4.0, 1.0, 1.7]])
    h = compute_rirs(ROOM, 0.3, mics, src, 16000, backend="fast", seed=2, baffle=arr.baffle)  # type: ignore[union-attr]
    h2 = compute_rirs(ROOM, 0.3, mics, src, 16000, backend="fast", seed=2, baffle=arr.baffle)  # type: ignore[union-attr]
    np.testing.assert_array_equal(h, h2)  # deterministic
    assert h.shape[:2] == (1, 4) and np.all(np.isfinite(h))
    with pytest.raises(ValueError, match="'fast'"):
        compute_rirs(ROOM, 0.3, mics, src, 16000, backend="ism", baffle=SphereBaffle(A))
    with pytest.raises(ValueError, match="sphere"):
        compute_rirs(ROOM, 0.3, mics, src, 16000, backend="fast", baffle=SphereBaffle(0.1))


def test_arrays_cli_lists_the_sphere_preset(capsys) -> None:
    from soundloc.cli import main

    assert main(["arrays", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["tetra-sphere"]["positions"] == rows["tetra"]["positions"]
