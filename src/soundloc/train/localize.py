"""Localize recordings with a trained SELD model: the library behind ``soundloc localize --model``.

The results are :class:`~soundloc.doa.base.DOAResult` s, as the classical localizers give, streamed
as :class:`~soundloc.doa.batch.LocalizeEvent` s, so the JSON / JSONL / table output and the plots are
the same; each source also carries its sound class (``label``) and, for a ``multi-accddoa`` model,
its distance in metres.

How a file is processed:

1. The audio is read block by block (:func:`~soundloc.audio.iter_audio_blocks`: memory does not
   grow with the file), cut into consecutive chunks of ``chunk_seconds`` (the last one
   zero-padded), and each batch of chunks goes through the model's features and network on the
   device (each chunk on its own, as ``soundloc evaluate`` does with its windows). The network
   runs in its inference form (:func:`~soundloc.models.inference_model`: BatchNorm folded into
   the convolutions; the same outputs up to float32 rounding). Each stage is a named
   ``torch.profiler`` range: ``localize.read``, ``.level``, ``.features``, ``.model``, ``.decode``,
   ``.windows``.
2. Each chunk's output is decoded at the activity ``threshold`` into 100 ms label frames
   (:meth:`~soundloc.models.SeldModel.decode`: per frame the active classes / tracks, with
   similar tracks of a class merged). A detection's *activity* is the model's score for its
   class and track in that frame: the ACCDOA vector norm, or the sigmoid of the ``sed-doa``
   logit. Frames past the end of the file are dropped.
3. **Window rule.** Windows are those of the classical path (``frame_length`` / ``hop_length``
   seconds, starts ``0, hop, 2 hop, ...``; the last window is cut at the end of the input; another
   window follows while the current one ends before the input and at least one 100 ms label
   frame is left after the next start). A label frame belongs to a window when its centre lies in
   it. Without ``frame_length`` the whole file is one window. In a window:

   * a source is a (class, track) active in at least one of its frames; two such sources of one
     class whose mean directions are less than ``unify_deg`` apart are one source (the model
     may move a sound between tracks from frame to frame);
   * its direction is the mean of its frames' DOA unit vectors (normalised), its ``distance`` the
     mean of its frames' distances, its ``confidence`` the mean activity over its active frames
     and its ``power`` the fraction of the window's label frames in which it is active;
   * sources are ordered by summed activity (strongest first), at most ``max_sources`` kept;
   * a window without a source reports the (class, track) of highest mean activity as a
     rejected candidate (``"below-confidence"``); a window quieter than ``min_level_dbfs``
     (mean-square level, as the classical energy gate) rejects every candidate (``"below-level"``).

The result's ``spectrum`` is not a spatial spectrum (a model has none): it draws a 10-degree
bump of height ``confidence`` at each candidate on the grid (by azimuth alone on an azimuth-only
grid), so the polar and DOA-vs-time plots show the model's answers.

Input checks (one-line ``ValueError``, before anything is read): the model must have an input
spec and a head that gives directions; the array (when given), the channel count and the sample
rate (after ``fs`` resampling) of every file must be those the model was trained for
(:meth:`~soundloc.models.InputSpec.check_input`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.profiler import record_function

from soundloc.dataformat import LABEL_HOP_S
from soundloc.doa.base import DOAResult, window_follows, window_lookahead
from soundloc.doa.batch import LocalizeEvent, resolve_grid
from soundloc.doa.confidence import DEFAULT_MIN_LEVEL_DBFS
from soundloc.geometry import ArrayModel, DOAGrid, array_from_dict, cart_to_sph_deg, unit_vectors_deg
from soundloc.models import InputSpec, SeldModel, inference_model

DIRECTIONAL_HEADS = ("sed-doa", "accdoa", "multi-accdoa", "multi-accddoa")
"""Heads whose output gives directions and an activity on its own."""

DEFAULT_CHUNK_S = 5.0
"""Seconds of audio the model sees at once (``soundloc evaluate``'s default window)."""

DEFAULT_THRESHOLD = 0.5
"""Activity above which a class / track is active in a label frame (the DCASE baselines' value)."""

BUMP_DEG = 10.0
"""Width (standard deviation, degrees) of the bumps drawn in a model result's ``spectrum``."""


def check_model(model: SeldModel) -> InputSpec:
    """The model's input spec; ``ValueError`` for a model that cannot localize on its own."""
    cfg = model.config
    if cfg is None or cfg.input is None:
        raise ValueError("the model has no input spec (array, rate, features); train it with soundloc train")
    if cfg.head not in DIRECTIONAL_HEADS:
        raise ValueError(f"a model with the '{cfg.head}' output cannot localize on its own; use one with "
                         f"{', '.join(DIRECTIONAL_HEADS)}")
    if cfg.input.fs % round(1 / LABEL_HOP_S):
        raise ValueError(f"the model's rate {cfg.input.fs} Hz is not a whole number of samples per 100 ms label frame")
    return cfg.input


def activity(head: str, output: torch.Tensor) -> torch.Tensor:
    """The activity ``(B, T, K, C)`` of a head output (K tracks: 3 for the multi heads, else 1)."""
    if head == "sed-doa":
        return torch.sigmoid(output[:, :, 0])[:, :, None]
    if head == "accdoa":
        norm: torch.Tensor = torch.linalg.vector_norm(output, dim=2)
        return norm[:, :, None]
    if head in ("multi-accdoa", "multi-accddoa"):
        norms: torch.Tensor = torch.linalg.vector_norm(output[:, :, :, :3], dim=3)
        return norms
    raise ValueError(f"head '{head}' has no activity and direction; use one of {', '.join(DIRECTIONAL_HEADS)}")


def _raw_vectors(head: str, output: torch.Tensor) -> torch.Tensor:
    """Direction vectors ``(B, T, K, C, 3)`` of every class / track, active or not."""
    if head == "sed-doa":
        return output[:, :, 1:4].permute(0, 1, 3, 2)[:, :, None]
    if head == "accdoa":
        return output.permute(0, 1, 3, 2)[:, :, None]
    return output[:, :, :, :3].permute(0, 1, 2, 4, 3)


@dataclass(frozen=True)
class ModelOptions:
    """Settings of :func:`iter_localize_model` (see its arguments)."""

    label: str
    frame_length: float | None = None
    hop_length: float | None = None
    threshold: float = DEFAULT_THRESHOLD
    max_sources: int | None = None
    min_level_dbfs: float = DEFAULT_MIN_LEVEL_DBFS
    unify_deg: float = 15.0
    chunk_seconds: float = DEFAULT_CHUNK_S
    batch_size: int = 8
    keep_whole: bool = False

    def __post_init__(self) -> None:
        for name in ("frame_length", "hop_length"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {v}")
        if self.frame_length is not None and self.frame_length < LABEL_HOP_S:
            raise ValueError(f"frame_length {self.frame_length:g} s is shorter than the model's {LABEL_HOP_S:g} s label frame")
        if self.hop_length is not None and self.frame_length is None:
            raise ValueError("hop_length needs frame_length")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (an activity), got {self.threshold}")
        if self.max_sources is not None and self.max_sources < 1:
            raise ValueError(f"max_sources must be >= 1, got {self.max_sources}")
        if math.isnan(self.min_level_dbfs) or self.min_level_dbfs == math.inf:
            raise ValueError(f"min_level_dbfs must be a level in dBFS (or -inf), got {self.min_level_dbfs}")
        if not 0.0 <= self.unify_deg <= 180.0:
            raise ValueError(f"unify_deg must be between 0 and 180, got {self.unify_deg}")
        frames = self.chunk_seconds / LABEL_HOP_S
        if not (math.isfinite(frames) and frames >= 1 and abs(frames - round(frames)) < 1e-6):
            raise ValueError(f"chunk_seconds must be a positive multiple of {LABEL_HOP_S:g} s, got {self.chunk_seconds}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


class ModelRunner:
    """A checked model with its feature extractor on ``device``: audio chunks -> per-frame tables.

    Args:
        model: a trained :class:`~soundloc.models.SeldModel` (see :func:`check_model`).
        options: the :class:`ModelOptions`.
        device: torch device.
        array: the array the audio comes from (checked against the model; default: the model's).
        grid: the grid of the results' ``spectrum`` (default: ``--grid auto``'s for the array).
    """

    def __init__(self, model: SeldModel, options: ModelOptions, *, device: str | torch.device = "cpu",
                 array: ArrayModel | None = None, grid: DOAGrid | None = None) -> None:
        self.spec = check_model(model)
        assert model.config is not None
        self.head = model.config.head
        if array is not None:
            self.spec.check_input(array, self.spec.fs)
        self.array: ArrayModel = array if array is not None else array_from_dict(dict(self.spec.array))
        self.options = options
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.net = inference_model(self.model, channels_last=self.device.type == "cpu")  # same outputs, faster
        self.features = self.spec.feature_module().to(self.device).eval()
        self.fs = self.spec.fs
        self.label_hop = self.fs // round(1 / LABEL_HOP_S)  # samples per label frame
        self.chunk = int(round(options.chunk_seconds * self.fs))
        self.chunk_frames = int(round(options.chunk_seconds / LABEL_HOP_S))
        self.grid = grid if grid is not None else resolve_grid("auto", self.array)
        self.tracks = 3 if self.head.startswith("multi") else 1
        self.classes = tuple(self.spec.class_names)
        self.has_distance = self.head == "multi-accddoa"

    @torch.inference_mode()
    def frames(self, chunks: np.ndarray) -> dict[str, np.ndarray]:
        """Per-label-frame tables of ``(B, M, chunk)`` audio, chunks concatenated in time:

        ``on (F, K, C)`` 1.0 where decoded active, ``vec (F, K, C, 3)`` the decoded unit DOA there
        (0 elsewhere), ``dist (F, K, C)`` its distance (0 elsewhere / without distance), ``act``
        the activity of every class / track, ``raw (F, K, C, 3)`` the unit direction of every
        class / track and ``rawdist (F, K, C)`` its distance (0 without)."""
        x = torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32)).to(self.device)
        with record_function("localize.features"):
            feats = self.features(x)
        with record_function("localize.model"):
            out = self.net(feats).float()
        T = out.shape[1]
        if T != self.chunk_frames:
            raise ValueError(f"the model gave {T} label frames for a {self.options.chunk_seconds:g} s chunk, expected "
                             f"{self.chunk_frames}")
        with record_function("localize.decode"):
            return self._tables(out)

    def _tables(self, out: torch.Tensor) -> dict[str, np.ndarray]:
        B, T = out.shape[0], out.shape[1]
        act = activity(self.head, out).cpu().numpy().astype(np.float64)  # (B, T, K, C)
        raw = _raw_vectors(self.head, out).cpu().numpy().astype(np.float64)
        raw /= np.maximum(np.linalg.norm(raw, axis=-1, keepdims=True), 1e-12)
        K, C = act.shape[2], act.shape[3]
        rawdist = np.zeros((B, T, K, C))
        if self.has_distance:
            rawdist = out[:, :, :, 3].cpu().numpy().astype(np.float64)
        on = np.zeros((B, T, K, C))
        vec = np.zeros((B, T, K, C, 3))
        dist = np.zeros((B, T, K, C))
        for b, lab in enumerate(self.model.decode(out, threshold=self.options.threshold, unify_deg=self.options.unify_deg)):
            if not len(lab):
                continue
            f, c, k = np.asarray(lab.frame), np.asarray(lab.class_index), np.asarray(lab.track)
            on[b, f, k, c] = 1.0
            vec[b, f, k, c] = unit_vectors_deg(np.asarray(lab.azimuth), np.asarray(lab.elevation))
            if self.has_distance:
                dist[b, f, k, c] = np.nan_to_num(np.asarray(lab.distance))
        F = B * T
        return {"on": on.reshape(F, K, C), "vec": vec.reshape(F, K, C, 3), "dist": dist.reshape(F, K, C),
                "act": act.reshape(F, K, C), "raw": raw.reshape(F, K, C, 3), "rawdist": rawdist.reshape(F, K, C)}

    def result(self, sums: dict[str, np.ndarray], n_frames: int, level: float, start: float, end: float) -> DOAResult:
        """The :class:`DOAResult` of a window from its frame sums (see the module docstring's window rule)."""
        o = self.options
        on, vec, dist, act = sums["on"], sums["vec"], sums["dist"], sums["act"]
        cos_limit = math.cos(math.radians(o.unify_deg))
        cands: list[tuple[float, np.ndarray, float, float, float, int]] = []  # (act sum, dir, conf, power, dist, class)
        norms = np.sqrt(np.einsum("kcd,kcd->kc", vec, vec))
        for c in np.flatnonzero((on > 0).any(axis=0)).tolist():  # the classes active in the window
            clusters: list[list[Any]] = []  # [count, act sum, vector sum, distance sum]
            for k in sorted(range(on.shape[0]), key=lambda t: -on[t, c]):
                if on[k, c] <= 0:
                    continue
                u = vec[k, c] / max(float(norms[k, c]), 1e-12)
                for cl in clusters:
                    if float(u @ (cl[2] / max(float(np.linalg.norm(cl[2])), 1e-12))) >= cos_limit:
                        cl[0] += on[k, c]
                        cl[1] += act[k, c]
                        cl[2] = cl[2] + vec[k, c]
                        cl[3] += dist[k, c]
                        break
                else:
                    clusters.append([float(on[k, c]), float(act[k, c]), vec[k, c].copy(), float(dist[k, c])])
            for cnt, a, v, d in clusters:
                cands.append((a, v / max(float(np.linalg.norm(v)), 1e-12), a / cnt, min(1.0, cnt / max(n_frames, 1)),
                              d / cnt, c))
        cands.sort(key=lambda t: -t[0])
        if o.max_sources is not None:
            cands = cands[: o.max_sources]
        decision = "source"
        if not cands and n_frames > 0:  # nothing active: the strongest (class, track) on average, rejected
            mean_act = sums["allact"] / n_frames
            tk, tc = (int(i) for i in np.unravel_index(int(np.argmax(mean_act)), mean_act.shape))
            v = sums["raw"][tk, tc]
            cands.append((0.0, v / max(float(np.linalg.norm(v)), 1e-12), float(mean_act[tk, tc]), 0.0,
                          float(sums["rawdist"][tk, tc]) / n_frames, tc))
            decision = "below-confidence"
        if level < o.min_level_dbfs:
            decision = "below-level"
        dirs = np.array([t[1] for t in cands]).reshape(-1, 3)
        az, el = cart_to_sph_deg(dirs) if len(cands) else (np.zeros(0), np.zeros(0))
        conf = np.array([t[2] for t in cands], dtype=np.float64)
        return DOAResult(
            method=o.label, azimuth=np.asarray(az, dtype=np.float64), elevation=np.asarray(el, dtype=np.float64),
            power=np.array([t[3] for t in cands], dtype=np.float64), spectrum=self._bumps(dirs, conf), grid=self.grid,
            start=start, end=end, confidence=conf, level_dbfs=level, decision=(decision,) * len(cands),
            label=tuple(self.classes[t[5]] for t in cands),
            distance=np.array([t[4] for t in cands], dtype=np.float64) if self.has_distance else None)

    def _bumps(self, dirs: np.ndarray, height: np.ndarray) -> np.ndarray:
        g = np.asarray(self.grid.directions, dtype=np.float64)
        if not len(dirs):
            return np.zeros(len(g))
        if self.grid.is_azimuth_only:  # an azimuth circle: bumps by azimuth alone (the model also gives elevations)
            dirs = unit_vectors_deg(cart_to_sph_deg(dirs)[0], np.asarray(self.grid.elevation_deg)[0])
        kappa = 1.0 / math.radians(BUMP_DEG) ** 2
        s = np.max(height[:, None] * np.exp(kappa * (dirs @ g.T - 1.0)), axis=0)
        top = float(s.max())
        return np.asarray(s / top if top > 0 else s, dtype=np.float64)


_KEYS = ("on", "vec", "dist", "act", "raw", "rawdist")


def _sum_keys(t: dict[str, np.ndarray], lo: int, hi: int) -> dict[str, np.ndarray]:
    s = {k: t[k][lo:hi].sum(axis=0) for k in _KEYS}
    s["allact"] = s.pop("act")  # activity of every frame
    s["act"] = (t["act"][lo:hi] * t["on"][lo:hi]).sum(axis=0)  # activity of the active frames
    return s


def _add(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return dict(b) if a is None else {k: a[k] + b[k] for k in a}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def locate_stream(
    runner: ModelRunner,
    blocks: Iterator[np.ndarray],
    *,
    on_short: Callable[[float], None] | None = None,
) -> Iterator[tuple[str, DOAResult]]:
    """``("result" | "whole", DOAResult)`` of consecutive ``(M, n)`` audio blocks at the model's rate:
    one per window as soon as it is complete (or one for the whole input without ``frame_length``),
    then the whole input's with ``keep_whole``. ``on_short(seconds)`` is called when the input is
    shorter than the window."""
    o = runner.options
    fs, L = runner.fs, runner.label_hop
    win = None if o.frame_length is None else int(round(o.frame_length * fs))
    hop = None if win is None else int(round((o.hop_length or o.frame_length or 0) * fs))
    if hop is not None:
        hop = max(hop, 1)
    pending: list[np.ndarray] = []
    pending_n = 0
    chunks: list[np.ndarray] = []
    n_read = 0
    processed = 0  # samples of the input whose label frames are in `table`
    total_energy = 0.0
    energy: dict[int, float] = {}
    table: dict[str, np.ndarray] | None = None
    table_f0 = 0  # frame index of table[...][0]
    whole: dict[str, np.ndarray] | None = None
    frames_done = 0
    next_k = 0

    def run_chunks(final: bool) -> None:
        nonlocal chunks, table, table_f0, whole, frames_done, processed
        if not chunks or (len(chunks) < o.batch_size and not final):
            return
        t = runner.frames(np.stack(chunks))
        chunks = []
        n_new = t["on"].shape[0]
        frames_done += n_new
        processed += n_new * L
        keep_all = win is None or o.keep_whole
        if keep_all:
            whole = _add(whole, _sum_keys(t, 0, n_new))  # padded frames are taken back at the end
        if win is not None:
            table = t if table is None else {k: np.concatenate([table[k], t[k]]) for k in _KEYS}
        else:
            tail.append(t)
            del tail[:-1]

    tail: list[dict[str, np.ndarray]] = []  # whole-file mode: the last chunk batch's frames (to drop padding)

    def frames_of(s: int, e: int) -> tuple[int, int]:
        """Label frames whose centre lies in [s, e) samples."""
        return max(_ceil_div(2 * s - L, 2 * L), 0), max(_ceil_div(2 * e - L, 2 * L), 0)

    def window_result(k: int, s: int, e: int, n_frames_total: int | None) -> DOAResult:
        nonlocal table, table_f0
        assert table is not None and win is not None and hop is not None
        lo, hi = frames_of(s, e)
        if n_frames_total is not None:
            hi = min(hi, n_frames_total)
        sums = _sum_keys(table, lo - table_f0, max(hi - table_f0, lo - table_f0))
        level = _level(energy.pop(k, 0.0), e - s)
        drop = max(frames_of((k + 1) * hop, (k + 1) * hop)[0] - table_f0, 0)
        if drop:
            table = {key: v[drop:] for key, v in table.items()}
            table_f0 += drop
        with record_function("localize.windows"):
            return runner.result(sums, max(hi - lo, 0), level, s / fs, e / fs)

    def add_energy(x: np.ndarray, b0: int) -> None:
        """Add the block's per-sample mean-square (over mics) to the total and to its windows' sums."""
        nonlocal total_energy
        n = x.shape[1]
        sq = np.einsum("ij,ij->j", x, x, dtype=np.float64)  # (n,): the mics' squares summed per sample, one pass
        scale = 1.0 / x.shape[0]
        total_energy += float(np.sum(sq, dtype=np.float64)) * scale
        if win is None or hop is None:
            return
        ks = range(max((b0 - win) // hop + 1, next_k, 0), (b0 + n - 1) // hop + 1)
        a = np.array([max(k * hop - b0, 0) for k in ks], dtype=np.int64)  # each window's part of the block
        b = np.array([min(k * hop + win - b0, n) for k in ks], dtype=np.int64)
        cuts = np.unique(np.concatenate([[0], a, b[b < n]]))
        cs = np.concatenate([[0.0], np.cumsum(np.add.reduceat(sq, cuts, dtype=np.float64))])  # sums to each cut
        pos = np.append(cuts, n)
        ia, ib = np.searchsorted(pos, a), np.searchsorted(pos, b)
        for k, lo, hi, ok in zip(ks, ia, ib, b > a):
            if ok:
                energy[k] = energy.get(k, 0.0) + float(cs[hi] - cs[lo]) * scale

    first = True
    for x in blocks:
        if x.shape[1] == 0:
            continue
        with record_function("localize.level"):
            add_energy(x, n_read)
        n_read += x.shape[1]
        pending.append(x)
        pending_n += x.shape[1]
        if pending_n >= runner.chunk:
            buf = np.concatenate(pending, axis=1)
            m = buf.shape[1] // runner.chunk
            chunks.extend(buf[:, i * runner.chunk:(i + 1) * runner.chunk] for i in range(m))
            pending = [buf[:, m * runner.chunk:]]
            pending_n = pending[0].shape[1]
            while len(chunks) >= o.batch_size:
                run_chunks(False)
        if win is not None and hop is not None:
            while True:  # windows known to be complete and not the last one
                s = next_k * hop
                if n_read < window_lookahead(s, win, hop, L) or processed < frames_of(s, s + win)[1] * L:
                    break
                yield "result", window_result(next_k, s, s + win, None)
                next_k += 1
        first = False
    n = n_read
    if first or n == 0:
        return
    if pending_n:
        tail_chunk = np.zeros((pending[0].shape[0], runner.chunk), dtype=np.float32)
        buf = np.concatenate(pending, axis=1)
        tail_chunk[:, : buf.shape[1]] = buf
        chunks.append(tail_chunk)
    run_chunks(True)
    n_frames = _ceil_div(n, L)
    extra = frames_done - n_frames  # frames of the zero padding after the input: taken back
    if extra > 0:
        last = table if win is not None else (tail[-1] if tail else None)
        if last is not None:
            size = last["on"].shape[0]
            if whole is not None:
                cut = _sum_keys(last, size - extra, size)
                whole = {k: whole[k] - cut[k] for k in whole}
            if win is not None:
                table = {k: v[: size - extra] for k, v in last.items()}
    if win is not None and hop is not None:
        if next_k == 0 and n < win and on_short is not None:
            on_short(n / fs)
        while True:
            s = next_k * hop
            e = min(s + win, n)
            yield "result", window_result(next_k, s, e, n_frames)
            if not window_follows(s, win, hop, n, L):
                break
            next_k += 1
    if whole is not None:
        res = runner.result(whole, n_frames, _level(total_energy, n), 0.0, n / fs)
        yield ("result" if win is None else "whole"), res


def _level(energy: float, n: int) -> float:
    """Mean-square level in dBFS of ``n`` samples of summed per-sample mean-square ``energy``."""
    if n <= 0 or energy <= 0:
        return -math.inf
    return 10.0 * math.log10(energy / n)


def locate_with_model(model: SeldModel, x: np.ndarray, fs: int, *, label: str = "model",
                      device: str | torch.device = "cpu", array: ArrayModel | None = None,
                      grid: DOAGrid | None = None, **options: Any) -> list[DOAResult]:
    """The results of one ``(M, N)`` recording in memory (one per window, or one for all of it);
    ``options`` are :class:`ModelOptions` fields."""
    runner = ModelRunner(model, ModelOptions(label=label, **options), device=device, array=array, grid=grid)
    runner.spec.check_input(runner.array, fs, int(np.asarray(x).shape[0]))
    return [r for kind, r in locate_stream(runner, iter([np.asarray(x, dtype=np.float32)])) if kind == "result"]


def iter_localize_model(
    files: Sequence[Path],
    model: SeldModel,
    *,
    label: str,
    array: ArrayModel | None = None,
    fs: int | None = None,
    resample: bool = True,
    channels: Sequence[int] | None = None,
    device: str | torch.device = "cpu",
    strict: bool = False,
    progress: bool = False,
    block_frames: int | None = None,
    grid: DOAGrid | None = None,
    **options: Any,
) -> Iterator[LocalizeEvent]:
    """Localize ``files`` with ``model``, yielding :class:`~soundloc.doa.batch.LocalizeEvent` s as
    :func:`soundloc.doa.batch.iter_localize` does (``"result"`` per window, ``"whole"`` with
    ``keep_whole``, ``"error"`` for a file that cannot be read, ``"notice"``).

    Args:
        files: audio files.
        model: the trained model.
        label: the results' ``method`` (e.g. ``builtin:foa``).
        array: the array of the recordings (checked against the model; default: the model's).
        fs: resample every file to this rate (must be the model's); ``resample=False`` refuses instead.
        channels: 0-based file channels holding the array's mics, in order.
        device: torch device of the features and the network.
        strict: raise the first unreadable file's error instead of an ``"error"`` event.
        progress: a progress bar (files) on stderr.
        block_frames: samples per block read (default :data:`~soundloc.audio.BLOCK_FRAMES`).
        grid: grid of the results' ``spectrum`` (plots).
        **options: :class:`ModelOptions` fields (``frame_length``, ``hop_length``, ``threshold``...).

    Raises:
        ValueError: (when called, before any file is read) bad options, a model that cannot
            localize, or an array / channel count / rate the model was not trained for (naming the file).
    """
    import soundfile as sf

    from soundloc.audio import BLOCK_FRAMES

    runner = ModelRunner(model, ModelOptions(label=label, **options), device=device, array=array, grid=grid)
    spec = runner.spec
    if fs is not None and int(fs) != spec.fs:
        raise ValueError(f"fs {int(fs)} Hz: this model was trained for {spec.fs} Hz audio")
    select = None if channels is None else [int(c) for c in channels]
    if select is not None and len(select) != spec.num_channels:
        raise ValueError(f"channels selects {len(select)} channels, the model expects {spec.num_channels}")
    for f in files:
        try:
            info = sf.info(str(f))
        except Exception:  # noqa: BLE001 - unreadable: reported (and skipped) when read
            continue
        rate = int(fs) if (fs is not None and resample) else int(info.samplerate)
        n_ch = int(info.channels) if select is None else len(select)
        try:
            spec.check_input(runner.array, rate, n_ch)
        except ValueError as e:
            hint = " (pick them with --channels)" if select is None and n_ch > spec.num_channels else ""
            raise ValueError(f"{f}: {e}{hint}") from None
    return _run_files(files, runner, fs, resample, select, strict, progress,
                      BLOCK_FRAMES if block_frames is None else int(block_frames))


def _read_ranges(blocks: Iterator[tuple[np.ndarray, int]]) -> Iterator[np.ndarray]:
    """The blocks of :func:`~soundloc.audio.iter_audio_blocks`, each read in a ``localize.read`` profiler range."""
    while True:
        with record_function("localize.read"):
            item = next(blocks, None)
        if item is None:
            return
        yield item[0]


def _run_files(files: Sequence[Path], runner: ModelRunner, fs: int | None, resample: bool, select: list[int] | None,
               strict: bool, progress: bool, block_frames: int) -> Iterator[LocalizeEvent]:
    from tqdm import tqdm

    from soundloc.audio import AudioError, iter_audio_blocks

    bar = tqdm(total=len(files), file=sys.stderr, unit="file", desc="localize", disable=not progress, leave=False)
    try:
        for i, f in enumerate(files):
            notices: list[str] = []

            def short(seconds: float, f: Path = f) -> None:
                notices.append(f"{f}: {seconds:.2f} s long, shorter than the {runner.options.frame_length:g} s window: one window")

            try:
                blocks = iter_audio_blocks(f, block_frames, fs=fs, channels=runner.spec.num_channels, resample=resample,
                                           select=select)
                for kind, res in locate_stream(runner, _read_ranges(blocks), on_short=short):
                    for msg in notices:
                        yield LocalizeEvent(i, "notice", message=msg)
                    notices.clear()
                    yield LocalizeEvent(i, kind, res)
            except AudioError as e:
                if strict:
                    raise
                if progress:
                    bar.clear()
                yield LocalizeEvent(i, "error", message=str(e))
            bar.update(1)
    finally:
        bar.close()


__all__ = ["DIRECTIONAL_HEADS", "ModelOptions", "ModelRunner", "activity", "check_model", "iter_localize_model",
           "locate_stream", "locate_with_model"]
