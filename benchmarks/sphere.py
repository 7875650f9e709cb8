"""How much the rigid sphere matters: localization of the tetra MIC array simulated free-field vs on the em32 sphere.

Real STARSS-style MIC audio comes from 4 capsules on the Eigenmike's rigid sphere (r = 4.2 cm);
soundloc's localizers (and most users) steer with the free-field model. This script simulates the
*same* rooms, sources and signals twice with the fast RIR backend — the ``tetra`` array as free-field
omni points and ``tetra-sphere`` (the same capsules on a rigid sphere: every image source scattered
by the sphere, rigid-sphere diffuse tail) — and localizes both with SRP-PHAT and NormMUSIC
(free-field steering, 3-D ``SphereGrid(4000)``), in two bands.

Rooms: width and length U[3, 10] m, height U[2.5, 4] m, RT60 U[0.2, 1.0] s (redrawn while Sabine's
inversion fails); the array at a random position >= 0.6 m from the walls, height 1-2 m, random yaw;
one source >= 0.5 m from the walls at 1-3 m from the array, direction uniform in azimuth and
elevation in [-40, 60] degrees. 24 kHz (DCASE). Signal: 1 s of white (even rooms) or pink (odd
rooms) noise, plus white sensor noise at 30 dB SNR (the same noise for both simulations).

Reported per condition: mean / median great-circle error and the fraction within 10 and 20
degrees, and the paired per-room difference (second condition - first).

Reference for the sphere simulation: a plain numpy SRP-PHAT (pairwise PHAT-weighted cross-spectra,
1024-point STFT, 300-10000 Hz, ``SphereGrid(2000)``) on the sphere-simulated audio, once with the
free-field steering vectors and once with the rigid-sphere ones ``H(f, u . r_m)``
(:func:`soundloc.scenes.sphere.sphere_response`): if the simulation is right, the matched model
localizes the sphere audio as well as free-field steering localizes free-field audio.

FOA part (same rooms, sources and signals): an FOA array (ACN/SN3D) at the same pose, ideal encoder
vs the em32-like encoder band limit (ideal below 9 kHz, spatially aliased above:
:func:`soundloc.scenes.sphere.foa_encoder_band_limit`), localized with the intensity vector
(``iv``) and NormMUSIC over 300-11000 Hz.

Usage:
    python benchmarks/sphere.py --rooms 100 --seed 0 [--out /tmp/sphere_bench.json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

FS = 24000
METHODS = ("srp-phat", "normmusic")
BANDS = {"300-3000Hz": (300.0, 3000.0), "300-10000Hz": (300.0, 10000.0)}
SIMS = ("free-field", "sphere")
FOA_METHODS = ("iv", "normmusic")
FOA_SIMS = ("foa-ideal", "foa-em32")
FOA_BAND = (300.0, 11000.0)


def draw_scene(rng: np.random.Generator) -> dict:
    from soundloc.geometry import SPEED_OF_SOUND, unit_vectors_deg
    from soundloc.scenes.acoustics import InfeasibleRoomError, sabine_absorption

    while True:
        dims = np.array([rng.uniform(3, 10), rng.uniform(3, 10), rng.uniform(2.5, 4)])
        rt60 = rng.uniform(0.2, 1.0)
        try:
            sabine_absorption(dims, rt60, SPEED_OF_SOUND)
        except InfeasibleRoomError:
            continue
        centre = np.array([rng.uniform(0.6, dims[0] - 0.6), rng.uniform(0.6, dims[1] - 0.6), rng.uniform(1.0, 2.0)])
        yaw = rng.uniform(-180, 180)
        for _ in range(100):
            az, el = rng.uniform(-180, 180), rng.uniform(-40, 60)
            dist = rng.uniform(1.0, 3.0)
            src = centre + dist * unit_vectors_deg(az, el)
            if np.all(src >= 0.5) and np.all(src <= dims - 0.5):
                return {"dims": dims, "rt60": rt60, "centre": centre, "yaw": yaw, "src": src,
                        "az_local": az - yaw, "el": el}


class _OwnSRP:
    """SRP-PHAT in numpy with given steering vectors ``(F, G, M)`` (phase only)."""

    def __init__(self, steering: np.ndarray, band: np.ndarray, grid_dirs: np.ndarray, nfft: int) -> None:
        self.a = steering / np.abs(steering)
        self.band, self.dirs, self.nfft = band, grid_dirs, nfft

    def direction(self, y: np.ndarray) -> np.ndarray:
        from scipy.signal import stft

        _, _, x = stft(y, fs=FS, nperseg=self.nfft)
        x = x[:, self.band, :]
        r = np.einsum("mft,nft->fmn", x, x.conj())
        r = r / (np.abs(r) + 1e-12)
        p = np.einsum("fgm,fmn,fgn->g", self.a.conj(), r, self.a).real
        return self.dirs[int(np.argmax(p))]


def run(n_rooms: int, seed: int) -> dict:
    from scipy.signal import fftconvolve

    from soundloc.doa import get_localizer
    from soundloc.geometry import SphereGrid, get_array, rotation_matrix, wrap_azimuth_deg
    from soundloc.metrics.doa import angular_error_deg
    from soundloc.scenes.mix import colored_noise
    from soundloc.scenes.rir import compute_rirs
    from soundloc.scenes.sphere import EM32_FOA_BAND_LIMIT_HZ

    free, sphere = get_array("tetra"), get_array("tetra-sphere")
    grid = SphereGrid(4000)
    locs = {(m, b): get_localizer(m, free, FS, grid=grid, fmin=lo, fmax=hi, nfft=1024)
            for m in METHODS for b, (lo, hi) in BANDS.items()}
    foa = get_array("foa")
    foa_locs = {m: get_localizer(m, foa, FS, grid=grid, fmin=FOA_BAND[0], fmax=FOA_BAND[1], nfft=1024)
                for m in FOA_METHODS}
    from soundloc.geometry import SPEED_OF_SOUND, cart_to_sph_deg
    from soundloc.scenes.sphere import sphere_response

    g2 = SphereGrid(2000).directions
    f = np.fft.rfftfreq(1024, 1.0 / FS)
    band = (f >= 300.0) & (f <= 10000.0)
    own = {
        "free-field steering": _OwnSRP(np.exp(2j * np.pi * f[band, None, None] * (g2 @ free.positions.T)[None] / SPEED_OF_SOUND),
                                       band, g2, 1024),
        "sphere steering": _OwnSRP(sphere_response(f[band], g2 @ (free.positions.T / sphere.baffle.radius), sphere.baffle.radius),
                                   band, g2, 1024),
    }
    own_errors: dict = {k: [] for k in own}
    rng = np.random.default_rng(seed)
    errors = {(s, m, b): [] for s in SIMS for m in METHODS for b in BANDS}
    foa_errors: dict = {(s, m): [] for s in FOA_SIMS for m in FOA_METHODS}
    t_sim = {s: 0.0 for s in SIMS}
    for r in range(n_rooms):
        sc = draw_scene(rng)
        mics = free.placed(sc["centre"], sc["yaw"])
        sig = colored_noise(rng, (FS,), FS, "white" if r % 2 == 0 else "pink")
        sensor = rng.standard_normal((4, FS + 4 * FS))
        rir_seed = int(rng.integers(2**31 - 1))
        truth_az = float(wrap_azimuth_deg(sc["az_local"]))
        for s in SIMS:
            t0 = time.perf_counter()
            h = compute_rirs(sc["dims"], sc["rt60"], mics, sc["src"][None], FS, backend="fast", seed=rir_seed,
                             **({"baffle": sphere.baffle} if s == "sphere" else {}))[0]
            t_sim[s] += time.perf_counter() - t0
            y = fftconvolve(sig[None, :], h, axes=-1)[:, :FS]
            y = y + sensor[:, : y.shape[1]] * np.sqrt(np.mean(y**2) / 10 ** 3.0)
            for m in METHODS:
                for b in BANDS:
                    est = locs[(m, b)].locate(y.astype(np.float32), num_sources=1)
                    err = float(angular_error_deg(est.azimuth[0], est.elevation[0], truth_az, sc["el"]))
                    errors[(s, m, b)].append(err)
            if s == "sphere":
                for k, srp in own.items():
                    az, el = cart_to_sph_deg(srp.direction(y))
                    own_errors[k].append(float(angular_error_deg(az, el, truth_az, sc["el"])))
        for s in FOA_SIMS:
            h = compute_rirs(sc["dims"], sc["rt60"], sc["centre"][None], sc["src"][None], FS, backend="fast",
                             seed=rir_seed, foa_rotation=rotation_matrix(sc["yaw"]),
                             foa_band_limit=EM32_FOA_BAND_LIMIT_HZ if s == "foa-em32" else None)[0]
            y = fftconvolve(sig[None, :], h, axes=-1)[:, :FS]
            y = y + sensor[:, : y.shape[1]] * np.sqrt(np.mean(y**2) / 10 ** 3.0)
            for m in FOA_METHODS:
                est = foa_locs[m].locate(y.astype(np.float32), num_sources=1)
                foa_errors[(s, m)].append(float(angular_error_deg(est.azimuth[0], est.elevation[0], truth_az, sc["el"])))
        if (r + 1) % 20 == 0:
            print(f"  {r + 1}/{n_rooms} rooms", file=sys.stderr)
    out: dict = {"rooms": n_rooms, "seed": seed, "fs": FS, "sim_seconds_per_room": {s: t_sim[s] / n_rooms for s in SIMS},
                 "results": {}}
    for m in METHODS:
        for b in BANDS:
            row = {}
            for s in SIMS:
                e = np.asarray(errors[(s, m, b)])
                row[s] = {"mean": float(e.mean()), "median": float(np.median(e)),
                          "acc10": float(np.mean(e <= 10)), "acc20": float(np.mean(e <= 20))}
            d = np.asarray(errors[("sphere", m, b)]) - np.asarray(errors[("free-field", m, b)])
            row["paired_diff"] = {"mean": float(d.mean()), "median": float(np.median(d)),
                                  "second_worse_frac": float(np.mean(d > 0))}
            out["results"][f"{m} {b}"] = row
    row = {}
    for k in own:
        e = np.asarray(own_errors[k])
        row[k] = {"mean": float(e.mean()), "median": float(np.median(e)),
                  "acc10": float(np.mean(e <= 10)), "acc20": float(np.mean(e <= 20))}
    d = np.asarray(own_errors["sphere steering"]) - np.asarray(own_errors["free-field steering"])
    row["paired_diff"] = {"mean": float(d.mean()), "median": float(np.median(d)), "second_worse_frac": float(np.mean(d > 0))}
    out["results"]["numpy SRP on sphere audio 300-10000Hz"] = row
    for m in FOA_METHODS:
        row = {}
        for s in FOA_SIMS:
            e = np.asarray(foa_errors[(s, m)])
            row[s] = {"mean": float(e.mean()), "median": float(np.median(e)),
                      "acc10": float(np.mean(e <= 10)), "acc20": float(np.mean(e <= 20))}
        d = np.asarray(foa_errors[("foa-em32", m)]) - np.asarray(foa_errors[("foa-ideal", m)])
        row["paired_diff"] = {"mean": float(d.mean()), "median": float(np.median(d)),
                              "second_worse_frac": float(np.mean(d > 0))}
        out["results"][f"FOA {m} {FOA_BAND[0]:.0f}-{FOA_BAND[1]:.0f}Hz"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args()
    t0 = time.perf_counter()
    res = run(a.rooms, a.seed)
    res["wall_seconds"] = time.perf_counter() - t0
    print(f"{a.rooms} rooms, seed {a.seed}, {FS} Hz, tetra free-field steering; great-circle error in degrees")
    print(f"fast RIR time per room: free-field {res['sim_seconds_per_room']['free-field'] * 1e3:.1f} ms, "
          f"sphere {res['sim_seconds_per_room']['sphere'] * 1e3:.1f} ms "
          f"(x{res['sim_seconds_per_room']['sphere'] / res['sim_seconds_per_room']['free-field']:.2f})")
    print(f"{'method / band':40s} {'condition':19s} {'mean':>7s} {'median':>7s} {'acc10':>6s} {'acc20':>6s}")
    for key, row in res["results"].items():
        for s in [k for k in row if k != "paired_diff"]:
            v = row[s]
            print(f"{key:40s} {s:19s} {v['mean']:7.1f} {v['median']:7.1f} {v['acc10']:6.2f} {v['acc20']:6.2f}")
        d = row["paired_diff"]
        print(f"{'':40s} {'2nd - 1st':19s} {d['mean']:+7.1f} {d['median']:+7.1f}  "
              f"(2nd worse in {d['second_worse_frac']:.0%} of rooms)")
    print(f"wall time {res['wall_seconds']:.0f} s")
    if a.out:
        from soundloc.fileio import write_json_atomic

        write_json_atomic(a.out, res)


if __name__ == "__main__":
    main()
