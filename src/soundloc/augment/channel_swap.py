"""ChannelSwap: the symmetries of an array that permute (and, for FOA, sign-flip) its channels.

An orthogonal transform ``R`` (rotation or reflection, 3x3) is a *symmetry* of a microphone
array when it maps the set of mic positions (relative to the centre) onto itself; with the
channel permutation it induces, ``p_k = R p_{perm[k]}`` for every output channel ``k``.
Then a far-field plane wave from the unit direction ``u`` recorded by the array and
re-ordered as ``y_k = x_{perm[k]}`` is *exactly* the recording of a plane wave from ``R u``:
the delay of channel ``k`` is ``-p_{perm[k]} . u / c = -(R p_{perm[k]}) . (R u) / c
= -p_k . (R u) / c``. Labels (unit vectors or ACCDOA vectors, last axis ``x, y, z``) transform
as ``u -> R u``; distances do not change. The symmetries are *derived* from the geometry
(:func:`array_symmetries`), never read from a table:

* ``tetra`` (DCASE MIC format): 8 symmetries (Wang et al. 2021, "audio channel swapping"):
  ``az -> az +- 90, el -> -el``; ``az -> -az +- 90, el -> el``; ``az -> -az, el -> -el``;
  ``az -> az + 180``; ``az -> -az + 180, el -> -el`` and the identity.
* ``circular4``: 8 (4 rotations by 90 degrees in azimuth x a mirror), elevation kept.
* FOA (ACN/SN3D ``W, Y, Z, X``, :func:`foa_symmetries`): a plane wave from ``u`` is
  ``W = s, (X, Y, Z) = s u``, so ``R`` acts on ``(X, Y, Z)`` directly; when ``R`` is a signed
  permutation matrix this is a channel swap with sign flips. The 16 that keep the vertical axis
  (``az -> +-az + k 90``, ``el -> +-el``) are DCASE's 16 FOA patterns; ``vertical=False`` gives
  all 48 (also exact for ideal FOA).

For a planar (or linear) array ``R`` is only determined on the span of the positions; we take
the identity on the rest (a planar array keeps the elevation), which is exact too because such
an array cannot hear that component.

Feature stacks are transformed consistently with the channel permutation (see
:class:`ChannelSwap`): log-mel channels move with their mics; the GCC-PHAT channel of the new
pair ``(a, b)`` is the old pair ``(perm[a], perm[b])``, mirrored in lag when ``perm[a] > perm[b]``
(the GCC of ``(j, i)`` is that of ``(i, j)`` at negated lags); FOA intensity vectors ``(x, y, z)``
transform as ``R I``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from soundloc.ambisonics import FoaFormat
from soundloc.augment.base import Augmentation
from soundloc.geometry import MicArray

MAX_MICS = 8
"""Largest array whose symmetries are searched (all ``M!`` permutations are tried)."""

FEATURE_LAYOUTS = ("mic", "foa", "logmel", "gcc-phat", "intensity")
"""Feature stacks :class:`ChannelSwap` can transform (the channel orders of ``soundloc.features``)."""


@dataclass(frozen=True)
class Symmetry:
    """One array symmetry.

    Attributes:
        perm: output channel ``k`` is input channel ``perm[k]``.
        signs: output channel ``k`` is multiplied by ``signs[k]`` (``+-1``; all ``+1`` for mics).
        rotation: ``R`` as a row-major 3x3 tuple; labels ``u -> R u``.
    """

    perm: tuple[int, ...]
    signs: tuple[float, ...]
    rotation: tuple[tuple[float, ...], ...]

    @property
    def matrix(self) -> NDArray[np.float64]:
        """``R`` as a ``(3, 3)`` array."""
        return np.array(self.rotation, dtype=np.float64)

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.matrix, np.eye(3)))

    def describe(self) -> str:
        """The transform in DCASE angles, e.g. ``"az -> -az + 90, el -> el"``."""
        return describe_rotation(self.matrix)

    def transform_doa(self, doa: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(..., 3)`` vectors (unit DOAs or ACCDOA) -> ``R`` applied to each."""
        out: NDArray[np.float64] = np.asarray(doa, dtype=np.float64) @ self.matrix.T
        return out


def describe_rotation(r: NDArray[np.float64], tol: float = 1e-6) -> str:
    """A transform that keeps the vertical axis as ``"az -> +-az + a, el -> +-el"``, else ``"general"``."""
    if abs(abs(r[2, 2]) - 1.0) > tol:
        return "general"
    block = r[:2, :2]
    det = float(np.linalg.det(block))
    a = round(math.degrees(math.atan2(block[1, 0], block[0, 0]))) % 360
    a = a - 360 if a > 180 else a  # (-180, 180]
    az = "az" if det > 0 else "-az"
    off = "" if a == 0 else (f" + {a}" if a > 0 else f" - {-a}")
    el = "el" if r[2, 2] > 0 else "-el"
    return f"az -> {az}{off}, el -> {el}"


def _orthonormal_span(p: NDArray[np.float64], tol: float) -> NDArray[np.float64]:
    """``(3, d)`` orthonormal basis of the span of the rows of ``p``."""
    _, s, vt = np.linalg.svd(p, full_matrices=True)
    d = int(np.sum(s > tol))
    return np.asarray(vt[:d].T, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _symmetries_of_positions(pos: tuple[tuple[float, ...], ...], rel_tol: float) -> tuple[Symmetry, ...]:
    p = np.asarray(pos, dtype=np.float64)
    p = p - p.mean(axis=0)
    m = len(p)
    scale = float(np.linalg.norm(p, axis=1).max())
    if scale == 0.0:
        raise ValueError("array has all microphones at one point; it has no channel-swap symmetries")
    tol = rel_tol * scale
    basis = _orthonormal_span(p, tol)  # (3, d)
    coords = p @ basis  # (M, d)
    dist = np.linalg.norm(p[:, None] - p[None], axis=-1)
    comp = np.eye(3) - basis @ basis.T
    out: list[Symmetry] = []
    for perm in itertools.permutations(range(m)):
        idx = np.asarray(perm)
        if np.abs(dist[idx][:, idx] - dist).max() > tol:
            continue  # not an isometry of the point set
        # solve  coords = coords[perm] @ Rs^T  (p_k = R p_perm[k]) in the span
        rs_t, *_ = np.linalg.lstsq(coords[idx], coords, rcond=None)
        rs = rs_t.T
        if np.abs(coords[idx] @ rs.T - coords).max() > tol or np.abs(rs @ rs.T - np.eye(len(rs))).max() > 1e-6:
            continue
        r = basis @ rs @ basis.T + comp
        r = np.where(np.abs(r) < 1e-12, 0.0, r)
        out.append(Symmetry(perm=tuple(int(i) for i in perm), signs=(1.0,) * m, rotation=tuple(tuple(float(v) for v in row) for row in r)))
    return tuple(out)


def array_symmetries(array: MicArray, rel_tol: float = 1e-6) -> tuple[Symmetry, ...]:
    """All symmetries of a microphone array, derived from its geometry (identity first).

    Args:
        array: ``M <= 8`` microphones.
        rel_tol: position tolerance relative to the largest mic radius.

    Returns:
        Every ``(perm, R)`` with ``p_k = R p_{perm[k]}`` for all ``k`` (positions relative to the
        array centre), ``R`` orthogonal; on a planar / linear array ``R`` is the identity off the
        span of the positions.

    Raises:
        ValueError: more than :data:`MAX_MICS` microphones, or all mics at one point.
    """
    if array.num_mics > MAX_MICS:
        raise ValueError(f"channel-swap symmetries are searched for arrays of <= {MAX_MICS} mics, '{array.name}' has {array.num_mics}")
    pos = tuple(tuple(float(v) for v in row) for row in np.asarray(array.positions, dtype=np.float64))
    return _symmetries_of_positions(pos, float(rel_tol))


@functools.lru_cache(maxsize=2)
def foa_symmetries(vertical: bool = True) -> tuple[Symmetry, ...]:
    """The symmetries of ACN/SN3D FOA ``(W, Y, Z, X)`` that are channel swaps with sign flips.

    ``R`` ranges over the signed 3x3 permutation matrices (the orientation-preserving and
    -reversing symmetries of the cube); ``vertical=True`` keeps those with ``R e_z = +-e_z``
    (16: ``az -> +-az + k 90``, ``el -> +-el``, the DCASE FOA patterns), ``False`` all 48.
    Channel ``W`` is unchanged; the new ``(X, Y, Z) = R (X, Y, Z)``.
    """
    acn_of_axis = (3, 1, 2)  # Cartesian x, y, z -> ACN channel index
    out: list[Symmetry] = []
    for axes in itertools.permutations(range(3)):
        for sg in itertools.product((1.0, -1.0), repeat=3):
            r = np.zeros((3, 3))
            for a in range(3):
                r[a, axes[a]] = sg[a]  # new axis a = sg[a] * old axis axes[a]
            if vertical and abs(r[2, 2]) != 1.0:
                continue
            perm = [0, 0, 0, 0]
            signs = [1.0, 1.0, 1.0, 1.0]
            for a in range(3):
                perm[acn_of_axis[a]] = acn_of_axis[axes[a]]
                signs[acn_of_axis[a]] = sg[a]
            out.append(Symmetry(perm=tuple(perm), signs=tuple(signs), rotation=tuple(tuple(float(v) for v in row) for row in r)))
    out.sort(key=lambda s: not s.is_identity)
    return tuple(out)


def symmetries_for(array: MicArray | FoaFormat, *, vertical: bool = True) -> tuple[Symmetry, ...]:
    """:func:`foa_symmetries` for FOA, :func:`array_symmetries` for a microphone array."""
    if isinstance(array, FoaFormat):
        return foa_symmetries(vertical)
    return array_symmetries(array)


def _pair_index(m: int) -> dict[tuple[int, int], int]:
    return {pair: q for q, pair in enumerate(itertools.combinations(range(m), 2))}


def _feature_tables(sym: Symmetry, layout: str, m: int) -> tuple[list[int], list[float], list[bool]]:
    """Per output feature channel: source channel, sign, lag flip (GCC of a reversed pair)."""
    mel_src = list(sym.perm)
    mel_sign = [1.0] * m  # |X|^2 does not see a sign flip
    pidx = _pair_index(m)
    gcc_src: list[int] = []
    gcc_flip: list[bool] = []
    for a, b in itertools.combinations(range(m), 2):
        i, j = sym.perm[a], sym.perm[b]
        gcc_src.append(pidx[(min(i, j), max(i, j))])
        gcc_flip.append(i > j)
    r = sym.matrix
    iv_src = [int(np.argmax(np.abs(r[a]))) for a in range(3)]
    iv_sign = [float(np.sign(r[a, iv_src[a]])) for a in range(3)]
    npairs = len(gcc_src)
    if layout == "logmel":
        return mel_src, mel_sign, [False] * m
    if layout == "gcc-phat":
        return gcc_src, [1.0] * npairs, gcc_flip
    if layout == "mic":
        return mel_src + [m + q for q in gcc_src], mel_sign + [1.0] * npairs, [False] * m + gcc_flip
    if layout == "intensity":
        return iv_src, iv_sign, [False] * 3
    # foa: 4 log-mel + intensity (x, y, z)
    return mel_src + [4 + s for s in iv_src], mel_sign + iv_sign, [False] * 7


class ChannelSwap(Augmentation):
    """Random array symmetry per clip, applied to waveforms or feature stacks and to DOA labels.

    Args:
        array: the :class:`~soundloc.geometry.MicArray` (``M <= 8``) or FOA format the audio comes from.
        features: layout of feature input (``(B, C, T, F)``): ``mic`` (``M`` log-mel + ``M(M-1)/2``
            GCC-PHAT, pair order ``(0,1), (0,2), ...``), ``foa`` (4 log-mel + intensity ``x, y, z``),
            ``logmel``, ``gcc-phat`` or ``intensity``; see :data:`FEATURE_LAYOUTS`. Default: ``mic`` for a
            microphone array, ``foa`` for FOA.
        gcc_symmetric: the GCC lags are ``-L..L`` (``True``) or ``-L..L-1`` (``False``, the DCASE crop
            of the ``dcase`` / ``mcsimclr`` presets). With the asymmetric crop the mirrored lag
            ``+L`` of a reversed pair is not in the input: that one bin (lag ``-L``) is set to 0.
        symmetries: restrict to these (default: all of :func:`symmetries_for`, identity included).
        vertical: FOA only: the 16 symmetries that keep the vertical axis (default) or all 48.
        p: probability that a clip is swapped (otherwise the identity); ``enabled`` / ``seed``:
            see :class:`~soundloc.augment.base.Augmentation`.

    ``forward(x, doa=None)`` draws one symmetry per clip and returns ``(x', doa')``: ``x``
    ``(B, M, N)`` waveforms or ``(B, C, T, F)`` features, ``doa`` ``(B, ..., 3)`` Cartesian
    vectors (unit DOAs, ACCDOA or multi-ACCDOA reshaped to ``(..., 3)``) or ``None``. For two views
    of one clip (MC-SimCLR) use :meth:`forward_pair`, which applies the same symmetry to both.

    Example:
        >>> cs = ChannelSwap(MicArray.preset("circular4"), seed=0)
        >>> x, doa = cs(torch.randn(2, 4, 16000), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
    """

    perm_table: torch.Tensor
    sign_table: torch.Tensor
    rot_table: torch.Tensor
    feat_src: torch.Tensor
    feat_sign: torch.Tensor
    feat_flip: torch.Tensor

    def __init__(
        self,
        array: MicArray | FoaFormat,
        *,
        features: str | None = None,
        gcc_symmetric: bool = False,
        symmetries: Sequence[Symmetry] | None = None,
        vertical: bool = True,
        p: float = 1.0,
        enabled: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(p=p, enabled=enabled, seed=seed)
        is_foa = isinstance(array, FoaFormat)
        layout = ("foa" if is_foa else "mic") if features is None else str(features).lower().replace("_", "-")
        if layout not in FEATURE_LAYOUTS:
            raise ValueError(f"unknown feature layout '{features}'; choose from {', '.join(FEATURE_LAYOUTS)}")
        if is_foa != (layout in ("foa", "intensity")):
            want = "foa or intensity" if is_foa else "mic, logmel or gcc-phat"
            raise ValueError(f"feature layout '{layout}' does not fit array '{array.name}'; use {want}")
        syms = tuple(symmetries) if symmetries is not None else symmetries_for(array, vertical=vertical)
        m = array.num_channels
        if not syms:
            raise ValueError("ChannelSwap needs at least one symmetry")
        for s in syms:
            if len(s.perm) != m or len(s.signs) != m:
                raise ValueError(f"symmetry with {len(s.perm)} channels given for the {m}-channel array '{array.name}'")
            r = s.matrix
            if is_foa and not (np.allclose(np.abs(r).sum(axis=1), 1.0) and np.allclose(np.abs(r).max(axis=1), 1.0)):
                raise ValueError(f"FOA symmetry '{s.describe()}' is not a signed permutation of x, y, z")
        self.array_name = array.name
        self.num_channels = m
        self.layout = layout
        self.gcc_symmetric = bool(gcc_symmetric)
        self.symmetries = syms
        ident = [k for k, s in enumerate(syms) if s.is_identity and s.perm == tuple(range(m)) and all(v == 1.0 for v in s.signs)]
        self.identity_index = ident[0] if ident else -1
        tabs = [_feature_tables(s, layout, m) for s in syms]
        self.register_buffer("perm_table", torch.tensor([s.perm for s in syms], dtype=torch.long), persistent=False)
        self.register_buffer("sign_table", torch.tensor([s.signs for s in syms], dtype=torch.float32), persistent=False)
        self.permutes_only = bool((self.sign_table == 1.0).all())  # waveforms: no sign flips (mic arrays)
        self.register_buffer("rot_table", torch.tensor(np.stack([s.matrix for s in syms]), dtype=torch.float64), persistent=False)
        self.register_buffer("feat_src", torch.tensor([t[0] for t in tabs], dtype=torch.long), persistent=False)
        self.register_buffer("feat_sign", torch.tensor([t[1] for t in tabs], dtype=torch.float32), persistent=False)
        self.register_buffer("feat_flip", torch.tensor([t[2] for t in tabs], dtype=torch.bool), persistent=False)

    @property
    def num_symmetries(self) -> int:
        return len(self.symmetries)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch,)`` long (CPU): the symmetry index for each clip (the identity where not applied).

        Clips not selected by ``p`` get the identity; an array without the identity in
        ``symmetries`` always gets a random one.
        """
        g = self._gen(generator)
        idx = torch.randint(0, self.num_symmetries, (batch,), generator=g)
        if self.identity_index >= 0:
            keep = ~self.draw_apply(batch, g)
            idx = torch.where(keep, torch.full_like(idx, self.identity_index), idx)
        elif not self.enabled:
            raise ValueError("a disabled ChannelSwap needs the identity among its symmetries")
        return idx

    # -- applying a drawn symmetry -------------------------------------------
    def apply_waveform(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``(B, M, N)`` -> ``(B, M, N)``: ``y[b, k] = signs[k] * x[b, perm[k]]`` for clip ``b``'s symmetry."""
        if x.ndim != 3 or x.shape[1] != self.num_channels:
            raise ValueError(f"ChannelSwap expects waveforms (B, {self.num_channels}, N), got shape {tuple(x.shape)}")
        idx = self._index(index, x)
        rows = torch.arange(x.shape[0], device=x.device)[:, None]
        y = x[rows, self.perm_table[idx].to(x.device)]  # (B, M, N), a copy
        if not self.permutes_only:
            y.mul_(self.sign_table[idx].to(device=x.device, dtype=x.dtype)[:, :, None])
        return y

    def apply_features(self, f: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, F)`` feature stack (layout ``features``) -> the stack of the swapped audio."""
        c = self.feat_src.shape[1]
        if f.ndim != 4 or f.shape[1] != c:
            raise ValueError(f"ChannelSwap ({self.layout} features) expects (B, {c}, T, F), got shape {tuple(f.shape)}")
        idx = self._index(index, f)
        rows = torch.arange(f.shape[0], device=f.device)[:, None]
        y = f[rows, self.feat_src[idx].to(f.device)]  # (B, C, T, F), a copy
        bi, ci = self.feat_flip[idx].nonzero(as_tuple=True)
        if len(bi):  # GCC of a reversed pair: mirror the lags
            bi, ci = bi.to(f.device), ci.to(f.device)
            mirrored = torch.flip(y[bi, ci], dims=[-1])
            if not self.gcc_symmetric:  # lags -L..L-1: bin k <- old lag L-k; lag +L is absent
                mirrored = torch.cat([torch.zeros_like(mirrored[..., :1]), mirrored[..., :-1]], dim=-1)
            y[bi, ci] = mirrored
        return y * self.feat_sign[idx].to(device=f.device, dtype=f.dtype)[:, :, None, None]

    def apply_doa(self, doa: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``(B, ..., 3)`` Cartesian vectors -> ``R_b`` applied to each (``u -> R u``)."""
        if doa.ndim < 2 or doa.shape[-1] != 3:
            raise ValueError(f"ChannelSwap expects DOA labels (B, ..., 3), got shape {tuple(doa.shape)}")
        idx = self._index(index, doa)
        r = self.rot_table[idx].to(device=doa.device, dtype=doa.dtype)  # (B, 3, 3)
        flat = doa.reshape(doa.shape[0], -1, 3)
        return torch.einsum("bij,bnj->bni", r, flat).reshape(doa.shape)

    def transform(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Waveforms (3-D) or features (4-D) with the symmetries ``index`` ``(B,)``."""
        if x.ndim == 3:
            return self.apply_waveform(x, index)
        if x.ndim == 4:
            return self.apply_features(x, index)
        raise ValueError(f"ChannelSwap expects waveforms (B, M, N) or features (B, C, T, F), got shape {tuple(x.shape)}")

    def _index(self, index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        idx = torch.as_tensor(index, dtype=torch.long)
        if idx.shape != (like.shape[0],):
            raise ValueError(f"symmetry index must have shape ({like.shape[0]},), got {tuple(idx.shape)}")
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= self.num_symmetries):
            raise ValueError(f"symmetry index out of range [0, {self.num_symmetries})")
        return idx.cpu()

    # -- forward ----------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, doa: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Swap each clip with a random symmetry; returns ``(x', doa')`` (``doa'`` is ``None`` if ``doa`` is)."""
        if not self.enabled:
            return x, doa
        idx = self.sample(x.shape[0], generator)
        return self.transform(x, idx), (None if doa is None else self.apply_doa(doa, idx))

    def forward_pair(
        self, a: torch.Tensor, b: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The *same* random symmetry for clip ``i`` of both views ``a`` and ``b`` (MC-SimCLR).

        ``a`` and ``b``: ``(B, M, N)`` or ``(B, C, T, F)`` each (they may differ in kind and length).
        Returns ``(a', b', index)``; ``index`` ``(B,)`` lets labels follow with :meth:`apply_doa`.
        """
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"the two views have different batch sizes: {a.shape[0]} and {b.shape[0]}")
        if not self.enabled:
            full = torch.full((a.shape[0],), max(self.identity_index, 0), dtype=torch.long)
            return a, b, full
        idx = self.sample(a.shape[0], generator)
        return self.transform(a, idx), self.transform(b, idx), idx

    def extra_repr(self) -> str:
        return f"array={self.array_name}, symmetries={self.num_symmetries}, features={self.layout}, {super().extra_repr()}"
