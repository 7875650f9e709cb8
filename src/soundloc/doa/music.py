"""Broadband MUSIC and NormMUSIC (incoherent over frequency bins).

Per analysed bin ``f`` the spatial covariance ``R_f = mean_t X_f X_f^H`` (``M x M``) is
eigendecomposed; its ``K = num_sources`` largest eigenvectors span the signal subspace
``E_s`` and the rest the noise subspace. The narrowband pseudo-spectrum is::

    p_f(g) = 1 / (a^H (I - E_s E_s^H) a) = 1 / (M - ||E_s^H a||^2),   a_m = exp(-j w_f tau_m(g))

* MUSIC sums ``p_f`` over bins (divided by the number of bins), as pyroomacoustics' ``MUSIC``;
  strong, sharp bins dominate.
* NormMUSIC first divides each bin's pseudo-spectrum by its maximum over the grid, so every
  bin votes with the same weight (pyroomacoustics' ``NormMUSIC``; D. Salvati et al., "Incoherent
  frequency fusion for broadband steered response power algorithms in noisy environments",
  IEEE SPL 2014) -- more robust in reverberant rooms.

``num_sources`` sets the signal-subspace size ``K``. The noise subspace needs at least one
dimension, so ``K = min(num_sources, M - 1)`` (e.g. a 2-mic array always uses ``K = 1``; the
requested number of peaks is still returned). Asking for more sources than are present leaves
fewer noise eigenvectors but still works.

On a coincident array (first-order ambisonics) the steering vectors are the real channel gains
(see :mod:`soundloc.doa.coincident`).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from soundloc.doa.base import Localizer
from soundloc.doa.coincident import coincident_music_from_cov, gain_table


class MUSIC(Localizer):
    """Broadband MUSIC (sum of per-bin pseudo-spectra).

    Default band 300-6000 Hz (see :class:`~soundloc.doa.base.Localizer` for the arguments and
    why). Plain MUSIC lets a few strong bins dominate, which makes it the least robust method in
    reverberant rooms; prefer :class:`NormMUSIC`.
    """

    name: ClassVar[str] = "music"
    normalize_bins: ClassVar[bool] = False
    supports_coincident: ClassVar[bool] = True
    frame_statistic: ClassVar[str | None] = "cov"

    def _setup(self) -> None:
        if self.array.is_coincident:  # FOA: real gain steering (soundloc.doa.coincident)
            self._gains = gain_table(self.array.gains(self.grid.directions), self.device)
            return
        self.pairs, self._table = self._make_pair_table()  # (P, 2), (F, 2P, G)
        self._pi = torch.as_tensor(self.pairs[:, 0], device=self.device)
        self._pj = torch.as_tensor(self.pairs[:, 1], device=self.device)

    def subspace_size(self, num_sources: int) -> int:
        """Signal-subspace dimension used for ``num_sources``: ``min(num_sources, M - 1)``."""
        return max(1, min(int(num_sources), self.num_mics - 1))

    def signal_subspace(self, X: torch.Tensor, num_sources: int) -> torch.Tensor:
        """``(B, F, M, K)`` orthonormal eigenvectors of the ``K`` largest eigenvalues of each bin's covariance."""
        return self._subspace_from_cov(torch.matmul(X, X.conj().transpose(-1, -2)), num_sources)

    def _subspace_from_cov(self, R: torch.Tensor, num_sources: int) -> torch.Tensor:
        """:meth:`signal_subspace` from the per-bin covariances ``R (B, F, M, M)`` (any positive scale)."""
        tr = torch.diagonal(R, dim1=-2, dim2=-1).real.sum(-1)  # scale-free: eigenvectors do not change
        R = R / tr.clamp_min(1e-30)[..., None, None]
        _, V = torch.linalg.eigh(R)  # ascending eigenvalues
        return V[..., -num_sources:]

    def _spectrum(self, X: torch.Tensor, num_sources: int) -> torch.Tensor:
        return self._from_covariance(torch.matmul(X, X.conj().transpose(-1, -2)), num_sources)

    def _analyse_sums(self, S: torch.Tensor, frames: int, num_sources: int) -> tuple[torch.Tensor, None]:
        return self._from_covariance((S / frames).to(torch.complex64), num_sources), None

    def _from_covariance(self, R: torch.Tensor, num_sources: int) -> torch.Tensor:
        """``(B, F, M, M)`` per-bin covariances (any positive scale) -> ``(B, G)`` spectra."""
        M = self.num_mics
        num_sources = self.subspace_size(num_sources)
        if self.array.is_coincident:
            return coincident_music_from_cov(R, self._gains, num_sources, self.normalize_bins)
        Es = self._subspace_from_cov(R, num_sources)  # (B, F, M, K)
        # a^H Ps a = K + 2 sum_{i<j} Re(Ps_ij conj(a_i) a_j) with the signal projector Ps = Es Es^H
        Ps = Es[:, :, self._pi] * Es[:, :, self._pj].conj()  # (B, F, P, K): e_i conj(e_j)
        Ps = Ps.sum(-1)
        feats = torch.cat([Ps.real, Ps.imag], dim=-1).transpose(0, 1)  # (F, B, 2P)
        # denominator a^H (I - Ps) a = (M - K) - 2 feats . table, one batched GEMM, then in place
        d = torch.baddbmm(torch.full((1, 1, 1), float(M - num_sources), device=R.device), feats, self._table, alpha=-2.0)
        p = d.clamp_min_(1e-6 * M).reciprocal_()  # (F, B, G)
        if self.normalize_bins:
            p = p.div_(p.amax(-1, keepdim=True))
        return p.mean(0)


class NormMUSIC(MUSIC):
    """Broadband MUSIC with per-bin normalised pseudo-spectra (each bin has max 1 before summing).

    The most accurate method on the reverberant benchmark (``benchmarks/doa.py``), and the one that
    resolves two sources best. Default band 300-6000 Hz.
    """

    name: ClassVar[str] = "normmusic"
    normalize_bins: ClassVar[bool] = True
