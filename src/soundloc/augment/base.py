"""Shared base of the augmentations: switch (``p`` / ``enabled``), an own seeded generator.

Every augmentation is a batched ``nn.Module`` whose randomness comes only from a
``torch.Generator``: its own (seeded by ``seed``) or one passed to ``forward``. The random
draws are made on the CPU, so the same seed gives the same augmentation on CPU and GPU.
``rng_state()`` / ``set_rng_state()`` save and restore the generator for an exact resume.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def check_probability(p: float, name: str = "p") -> float:
    """``p`` as a float in ``[0, 1]``; ``ValueError`` otherwise."""
    v = float(p)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return v


class Augmentation(nn.Module):
    """Base class: application probability, on/off switch and a private random generator.

    Args:
        p: probability that a clip is augmented (each clip of a batch draws independently;
            ``0`` switches the augmentation off).
        enabled: ``False`` makes ``forward`` the identity (for ablations), whatever ``p``.
        seed: seed of the module's own CPU generator (``None``: seeded from torch's global RNG).
    """

    def __init__(self, *, p: float = 1.0, enabled: bool = True, seed: int | None = None) -> None:
        super().__init__()
        self.p = check_probability(p)
        self.enabled = bool(enabled)
        self.generator = torch.Generator(device="cpu")
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.generator.manual_seed(int(seed))

    @property
    def active(self) -> bool:
        """Whether ``forward`` can change its input (``enabled`` and ``p > 0``)."""
        return self.enabled and self.p > 0.0

    def _gen(self, generator: torch.Generator | None) -> torch.Generator:
        return self.generator if generator is None else generator

    def draw_apply(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch,)`` bool (CPU): which clips are augmented (each with probability ``p``)."""
        g = self._gen(generator)
        if not self.active:
            return torch.zeros(batch, dtype=torch.bool)
        return torch.rand(batch, generator=g) < self.p

    def rng_state(self) -> torch.Tensor:
        """The generator's state (save it with a checkpoint)."""
        return self.generator.get_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        """Restore a state from :meth:`rng_state`."""
        self.generator.set_state(state)

    def extra_repr(self) -> str:
        return f"p={self.p}, enabled={self.enabled}"
