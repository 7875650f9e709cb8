"""SRP-PHAT: steered response power with phase-transform weighting.

For every frequency bin ``f`` and frame ``t`` each microphone spectrum is whitened,
``Y_m = X_m / |X_m|``, and the array is steered to every grid direction ``g``::

    P(g) = 1 / (F T M^2) * sum_{f, t} | sum_m conj(a_m(f, g)) Y_m(f, t) |^2 ,   a_m = exp(-j w_f tau_m(g))

which is in [0, 1] (1 = all whitened channels add in phase in every bin). It is evaluated
through the pair cross-spectra ``C_ij(f) = mean_t Y_i conj(Y_j)``:
``P = (M + 2 sum_f sum_{i<j} Re(C_ij exp(j w (tau_i - tau_j)))) / (F M^2)``, i.e. one real matrix
product ``(B, 2 F P) @ (2 F P, G)`` with the steering table precomputed in ``__init__``.
pyroomacoustics' ``SRP`` computes the same quantity up to an affine rescaling (it divides by
the number of pairs instead of ``M^2`` and does not average over frames before the DC offset),
so both put their peaks at the same grid points.

On a coincident array (first-order ambisonics) there are no delays: the steering vector is the
channel gains and each time-frequency vector is whitened as a whole (see
:mod:`soundloc.doa.coincident`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from soundloc.doa.base import Localizer
from soundloc.doa.coincident import coincident_srp, coincident_srp_from_sums, gain_table

_CHUNK_ELEMS = 1 << 19
"""Complex STFT values whitened at a time on the CPU (4 MB: a few clips, so the whitened chunk stays in cache)."""


def phat_cross_spectra(X: torch.Tensor, pairs: np.ndarray) -> torch.Tensor:
    """PHAT-weighted pair cross-spectra averaged over frames.

    Computed pair by pair (``sum_t Y_i conj(Y_j)``, never the full ``M x M`` matrices) in the
    STFT's own memory order ``(B, M, T, F)`` (what :func:`soundloc.features.stft.stft` returns, seen
    through ``Localizer._select_band``'s permuted view), a few clips at a time on the CPU so the
    whitened chunk stays in cache.

    Args:
        X: ``(B, F, M, T)`` complex STFT (any strides).
        pairs: ``(P, 2)`` mic index pairs ``(i, j)``.

    Returns:
        ``(B, F, P)`` complex, ``mean_t Y_i conj(Y_j)`` with ``Y = X / |X|`` (0 where ``X == 0``);
        a strided view (pairs-major memory).
    """
    Z = X.permute(0, 2, 3, 1)  # (B, M, T, F)
    B, _, T, F = Z.shape
    out = torch.empty((B, len(pairs), F), dtype=X.dtype, device=X.device)
    per_clip = max(Z[0].numel(), 1)
    step = B if X.device.type != "cpu" else max(1, _CHUNK_ELEMS // per_clip)
    for c in range(0, B, step):
        Y = torch.sgn(Z[c : c + step])  # X / |X|, 0 where X == 0
        for p, (i, j) in enumerate(pairs):
            torch.linalg.vecdot(Y[:, j], Y[:, i], dim=1, out=out[c : c + step, p])  # sum_t conj(Y_j) Y_i
    return (out / T).transpose(1, 2)


def pair_entries(C: torch.Tensor, pairs: np.ndarray) -> torch.Tensor:
    """``(B, F, M, M)`` per-bin matrices -> ``(B, F, P)`` their entries ``C[..., i, j]`` for the pairs ``(i, j)``."""
    i = torch.as_tensor(pairs[:, 0], device=C.device)
    j = torch.as_tensor(pairs[:, 1], device=C.device)
    return C[:, :, i, j]


class SRPPHAT(Localizer):
    """SRP-PHAT localizer (robust default for reverberant rooms; any number of sources).

    Default band 300-6000 Hz (see :class:`~soundloc.doa.base.Localizer` for the arguments and
    why). Fastest method; its broad beams on small arrays pull two nearby sources' peaks towards
    each other (a few degrees at 60-90 degrees separation on a 10-cm array).

    Example:
        >>> from soundloc.geometry import MicArray
        >>> loc = SRPPHAT(MicArray.preset("circular4"), 16000)
        >>> res = loc.locate(x, num_sources=1)   # x: (4, N)
    """

    name: ClassVar[str] = "srp-phat"
    supports_coincident: ClassVar[bool] = True
    frame_statistic: ClassVar[str | None] = "phat"

    def _setup(self) -> None:
        if self.array.is_coincident:  # FOA: steer with the channel gains, whiten whole vectors
            self._gains = gain_table(self.array.gains(self.grid.directions), self.device)
            return
        self.pairs, table = self._make_pair_table()  # (P, 2), (F, 2P, G)
        self._table = table.reshape(-1, table.shape[-1])  # (F * 2P, G)

    def _spectrum(self, X: torch.Tensor, num_sources: int) -> torch.Tensor:
        if self.array.is_coincident:
            return coincident_srp(X, self._gains)
        return self._from_cross_spectra(phat_cross_spectra(X, self.pairs))

    def frame_statistic_for_array(self) -> str | None:
        return "vphat" if self.array.is_coincident else "phat"

    def _analyse_sums(self, S: torch.Tensor, frames: int, num_sources: int) -> tuple[torch.Tensor, None]:
        if self.array.is_coincident:
            return coincident_srp_from_sums(S, self._gains), None
        return self._from_cross_spectra(pair_entries((S / frames).to(torch.complex64), self.pairs)), None

    def _from_cross_spectra(self, C: torch.Tensor) -> torch.Tensor:
        """``(B, F, P)`` frame-averaged PHAT pair cross-spectra -> ``(B, G)`` spectra."""
        B, F, _ = C.shape
        M = self.num_mics
        feats = torch.cat([C.real, C.imag], dim=-1).reshape(B, -1)  # (B, F * 2P)
        s = (M + 2.0 * (feats @ self._table) / F) / (M * M)
        return s.clamp_min(0.0)
