"""Steered spectra for coincident directional arrays (first-order ambisonics).

A coincident array (:class:`~soundloc.ambisonics.FoaFormat`) has all its channels at one point;
direction is carried by the channel *gains* ``a(u) = array.gains(u)`` (real, frequency
independent; ``[1, u_y, u_z, u_x]`` for ACN/SN3D FOA), not by delays. SRP-PHAT and MUSIC use
these functions in place of their pair-delay tables when ``array.is_coincident``.

* **SRP** (vector-whitened steered response power): each time-frequency vector is whitened as a
  whole, ``y = x / ||x||`` (per-channel PHAT would throw away the amplitude ratios that encode
  the direction), and ``P(g) = mean_{f,t} |a_g^T y|^2 / ||a_g||^2``, in [0, 1] (1: every bin is a
  plane wave from ``g``).
* **MUSIC**: per bin the signal subspace ``E_s`` of ``R_f = mean_t x x^H`` and
  ``p_f(g) = 1 / (1 - ||E_s^H a_g||^2 / ||a_g||^2)``; NormMUSIC divides each bin by its maximum
  over the grid before averaging.
"""

from __future__ import annotations

import numpy as np
import torch


def gain_table(gains: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(G, M)`` real gains -> ``(M, G)`` float32 unit-norm steering columns on ``device``."""
    g = np.asarray(gains, dtype=np.float64)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    return torch.as_tensor(g.T, dtype=torch.float32, device=device).contiguous()


def _outer_table(table: torch.Tensor) -> torch.Tensor:
    """``(M, G)`` columns ``a`` -> ``(M * M, G)`` products ``a_m a_n`` (so ``a^T P a = vec(P) . table``)."""
    m, g = table.shape
    return (table[:, None, :] * table[None, :, :]).reshape(m * m, g)


def vector_whitened_sums(X: torch.Tensor) -> torch.Tensor:
    """``(B, F, M, T)`` band STFT -> ``(B, F, M, M)`` per-bin sums over frames of ``Y Y^H`` with each
    time-frequency vector whitened, ``Y = X / ||X||`` (zero vectors stay zero): the frame statistic
    of the coincident SRP (``trace`` of a bin's sum = its number of non-zero frames)."""
    norm = torch.linalg.vector_norm(X, dim=2, keepdim=True)  # (B, F, 1, T)
    Y = X / norm.clamp_min(1e-30)
    return torch.matmul(Y, Y.conj().transpose(-1, -2))


def coincident_srp_from_sums(S: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Vector-whitened SRP from :func:`vector_whitened_sums` ``S (B, F, M, M)`` (summed over any
    number of frames, e.g. block by block): ``(B, G)`` in [0, 1]."""
    B, _, M, _ = S.shape
    C = S.sum(1).real  # (B, M, M); the steering is real
    used = torch.diagonal(S, dim1=-2, dim2=-1).real.sum((1, 2)).clamp_min(1.0)  # whitened bins per clip
    s: torch.Tensor = (C.reshape(B, M * M).to(table.dtype) @ _outer_table(table)) / used[:, None].to(table.dtype)
    return s.clamp_min(0.0)


def coincident_srp(X: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Vector-whitened SRP.

    Args:
        X: ``(B, F, M, T)`` complex band STFT.
        table: ``(M, G)`` unit-norm real steering columns (:func:`gain_table`).

    Returns:
        ``(B, G)`` in [0, 1].
    """
    return coincident_srp_from_sums(vector_whitened_sums(X), table)


def coincident_music_from_cov(R: torch.Tensor, table: torch.Tensor, num_sources: int, normalize_bins: bool) -> torch.Tensor:
    """Broadband (Norm)MUSIC with real steering columns, from per-bin covariances.

    Args:
        R: ``(B, F, M, M)`` per-bin spatial covariances (any positive scale), e.g. ``X X^H`` summed over frames.
        table: ``(M, G)`` unit-norm real steering columns (:func:`gain_table`).
        num_sources: signal-subspace size ``K`` (``1 <= K < M``).
        normalize_bins: NormMUSIC (each bin's pseudo-spectrum scaled to max 1 before the mean).

    Returns:
        ``(B, G)`` positive.
    """
    tr = torch.diagonal(R, dim1=-2, dim2=-1).real.sum(-1)
    _, V = torch.linalg.eigh(R / tr.clamp_min(1e-30)[..., None, None])
    Es = V[..., -num_sources:]  # (B, F, M, K)
    # ||Es^H a||^2 = a^T Re(Es Es^H) a for real a: one real GEMM against the a_m a_n table
    P = torch.matmul(Es, Es.conj().transpose(-1, -2)).real  # (B, F, M, M)
    B, F, M, _ = P.shape
    d = 1.0 - (P.reshape(B * F, M * M).to(table.dtype) @ _outer_table(table)).reshape(B, F, -1)  # (B, F, G)
    p = d.clamp_min_(1e-6).reciprocal_()
    if normalize_bins:
        p = p.div_(p.amax(-1, keepdim=True))
    return p.mean(1)
