"""Our ``mic`` and ``foa`` feature stacks vs a DCASE-baseline-style extractor, side by side.

The peer follows the DCASE 2023 SELD baseline's ``cls_feature_class.py`` (written here from its
description, not copied): per channel ``librosa.stft`` (centred, periodic Hann of 960 samples in
a 1024 FFT, hop 480), ``|X|^2 @ librosa.filters.mel`` then ``librosa.power_to_db`` (``top_db=None``
as in our default), numpy GCC-PHAT per pair (``irfft(exp(1j * angle(conj(X_m) X_n)))`` cropped to
lags -32..31) and numpy FOA intensity vectors (``Re(conj(W) [Y, Z, X]) / E`` on the mel bands;
reordered to x, y, z for the comparison). Both run on the same clips (random 1-s 4-channel 24 kHz
noise: the cost does not depend on the content) on one CPU thread; the features are compared
numerically (max abs difference per part, correlation).

Timings per clip: the peer one clip at a time; ours one clip at a time and batched; the
"arithmetic floor" is the bare torch work of the ``mic`` stack per clip (rFFT of the windowed
frames, ``|X|^2`` times a mel-sized matrix, the 6 pair products and their inverse FFTs) with no
checks, whitening, logs or layout changes; the ``foa`` row is compared with the same floor. With ``--device cuda`` the batched GPU path is timed too.

Usage:
    python benchmarks/features.py --clips 64 --repeats 5
    python benchmarks/features.py --device cuda --batch 256
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import numpy as np
import torch

from soundloc.features import get_feature

FS, NFFT, HOP, WIN, MELS = 24000, 1024, 480, 960, 64


def dcase_style(x: np.ndarray, mel_wts: np.ndarray, kind: str) -> np.ndarray:
    """``(4, N)`` -> ``(C, T, 64)``: 4 log-mel + (6 GCC | 3 IV) the way the DCASE baseline computes them."""
    import librosa

    spec = np.stack([librosa.stft(np.asfortranarray(x[c]), n_fft=NFFT, hop_length=HOP, win_length=WIN, window="hann").T
                     for c in range(x.shape[0])], axis=-1)  # (T, F, C)
    mel = np.einsum("tfc,fm->tmc", np.abs(spec) ** 2, mel_wts)
    logmel = np.stack([librosa.power_to_db(mel[:, :, c], top_db=None) for c in range(x.shape[0])])  # (C, T, mels)
    if kind == "mic":
        out = []
        for m, n in itertools.combinations(range(x.shape[0]), 2):
            R = np.conj(spec[:, :, m]) * spec[:, :, n]
            cc = np.fft.irfft(np.exp(1j * np.angle(R)))
            out.append(np.concatenate((cc[:, -MELS // 2 :], cc[:, : MELS // 2]), axis=-1))
        return np.concatenate([logmel, np.stack(out)])
    W = spec[:, :, 0]
    inten = np.real(np.conj(W)[:, :, None] * spec[:, :, 1:])  # (T, F, 3) in ACN order Y, Z, X
    energy = 1e-8 + np.abs(W) ** 2 + (np.abs(spec[:, :, 1:]) ** 2).sum(-1) / 3.0
    iv = np.einsum("tfc,fm->ctm", inten / energy[:, :, None], mel_wts)[[2, 0, 1]]  # -> x, y, z
    return np.concatenate([logmel, iv])


def best_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=64, help="1-s 4-channel clips")
    p.add_argument("--repeats", type=int, default=5, help="timings are the best of this many runs")
    p.add_argument("--device", default="cpu", help="also time the batched path on this device (e.g. cuda)")
    p.add_argument("--batch", type=int, default=None, help="GPU batch size (default: --clips)")
    args = p.parse_args(argv)

    import librosa

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    xs = (0.1 * rng.standard_normal((args.clips, 4, FS))).astype(np.float32)
    xt = torch.from_numpy(xs)
    mel_wts = librosa.filters.mel(sr=FS, n_fft=NFFT, n_mels=MELS).T  # (F, mels), Slaney
    n_peer = min(args.clips, 16)
    print(f"{args.clips} clips of 1 s, 4 channels, {FS} Hz; torch {torch.__version__}, librosa {librosa.__version__}, 1 CPU thread\n")
    print("| stack | peer ms/clip | ours ms/clip (1 clip) | ours ms/clip (batched) | floor ms/clip | speed-up vs peer (1 / batched) | ours/floor | max abs diff log-mel (dB) | max abs diff spatial | corr spatial |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with torch.inference_mode():
        t_floor = best_time(lambda: [_floor(xt[i : i + 1]) for i in range(args.clips)], args.repeats) / args.clips
    for kind in ("mic", "foa"):
        print(_row(kind, get_feature(kind, in_channels=4, fs=FS), xs, xt, mel_wts, n_peer, args.repeats, t_floor))

    if args.device != "cpu":
        dev = torch.device(args.device)
        b = args.batch or args.clips
        xg = torch.from_numpy((0.1 * rng.standard_normal((b, 4, FS))).astype(np.float32)).to(dev)
        print(f"\n{args.device}: batch of {b} clips")
        for kind in ("mic", "foa", "salsa-lite"):
            print(_gpu(kind, dev, xg, args.repeats))
    return 0


def _row(kind: str, f: torch.nn.Module, xs: np.ndarray, xt: torch.Tensor, mel_wts: np.ndarray, n_peer: int,
         repeats: int, t_floor: float) -> str:
    """One table row: timings and numerical agreement of our stack ``f`` with the peer."""
    with torch.inference_mode():
        ours = f(xt[:n_peer]).numpy()
        ref = np.stack([dcase_style(x, mel_wts, kind) for x in xs[:n_peer]])
        assert ours.shape == ref.shape, (ours.shape, ref.shape)
        d_lm = np.abs(ours[:, :4] - ref[:, :4]).max()
        d_sp = np.abs(ours[:, 4:] - ref[:, 4:]).max()
        corr = np.corrcoef(ours[:, 4:].ravel(), ref[:, 4:].ravel())[0, 1]
        t_peer = best_time(lambda: [dcase_style(x, mel_wts, kind) for x in xs[:n_peer]], max(1, repeats // 2)) / n_peer
        t_one = best_time(lambda: [f(xt[i : i + 1]) for i in range(n_peer)], repeats) / n_peer
        t_batch = best_time(lambda: f(xt), repeats) / len(xt)
    return (f"| {kind} | {1e3 * t_peer:.2f} | {1e3 * t_one:.2f} | {1e3 * t_batch:.2f} | {1e3 * t_floor:.2f} | "
            f"{t_peer / t_one:.1f}x / {t_peer / t_batch:.1f}x | {t_batch / t_floor:.2f} | {d_lm:.2g} | {d_sp:.2g} | {corr:.6f} |")


def _gpu(kind: str, dev: torch.device, xg: torch.Tensor, repeats: int) -> str:
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    f = get_feature(kind, in_channels=4, fs=FS).to(dev)
    with torch.inference_mode():
        t = best_time(lambda: f(xg), repeats, sync) / len(xg)
        gpu = f(xg[:4]).cpu()
        cpu = f.cpu()(xg[:4].cpu())
    return f"  {kind}: {1e3 * t:.4f} ms/clip ({1 / t:.0f} clips/s); max |gpu - cpu| = {float((gpu - cpu).abs().max()):.2g}"


def _floor(xt: torch.Tensor) -> torch.Tensor:
    """Bare FFT work of the mic stack: windowed-frame rFFT, mel projection of |X|^2, pair irFFTs."""
    x = torch.nn.functional.pad(xt, (NFFT // 2, NFFT // 2))
    w = torch.nn.functional.pad(torch.hann_window(WIN), ((NFFT - WIN) // 2, (NFFT - WIN) // 2))
    X = torch.fft.rfft(x.unfold(-1, NFFT, HOP) * w)  # (B, 4, T, F)
    fb = torch.ones(NFFT // 2 + 1, MELS)
    (X.real**2 + X.imag**2) @ fb
    R = X[:, [1, 2, 3, 2, 3, 3]] * X[:, [0, 0, 0, 1, 1, 2]].conj()
    return torch.fft.irfft(R, n=NFFT)


if __name__ == "__main__":
    raise SystemExit(main())
