"""The one torch device check: a device spec (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) -> ``torch.device``.

Every module that runs torch code on a user-chosen device goes through :func:`resolve_device`, so
an unknown name or a device that is not available here is refused the same way everywhere (the
localizers, ``soundloc localize --device``, the features), with a one-line ``ValueError``.
"""

from __future__ import annotations

import torch


def resolve_device(spec: str | torch.device, *, option: str | None = None) -> torch.device:
    """Parse and check a torch device.

    Args:
        spec: ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"``... or a ``torch.device``; ``"auto"``:
            ``cuda`` when a CUDA GPU is available to torch, else ``cpu``.
        option: the command-line option the value came from (e.g. ``"--device"``); error
            messages then name the option instead of the argument.

    Returns:
        The ``torch.device``.

    Raises:
        ValueError: unknown device name, or CUDA / MPS requested but not available to torch here.
    """
    if isinstance(spec, str) and spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, TypeError):
        if option:
            raise ValueError(f"{option}: unknown device '{spec}' (use cpu, cuda, cuda:0, mps...)") from None
        raise ValueError(f"unknown torch device '{spec}' (e.g. 'cpu', 'cuda', 'cuda:1')") from None
    where = f"{option} {spec}" if option else f"device '{spec}'"
    fallback = f"{option} cpu" if option else "device='cpu'"
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{where}: no CUDA GPU is available to torch here; use {fallback}")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{where}: MPS is not available here; use {fallback}")
    return dev
