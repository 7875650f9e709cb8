"""Data-parallel training on torch DDP: synchronised batch norm and a process launcher.

* :class:`SyncBatchNorm`: batch norm whose batch statistics are those of the *global* batch (sums
  all-reduced with autograd, so gradients flow across processes). torch's own ``SyncBatchNorm``
  runs on GPUs only; this one works on every backend (gloo on CPU included), which is what makes
  DDP with ``R`` processes of ``B / R`` clips equal one process with ``B`` clips.
* :func:`wrap_ddp`: converts a model's batch norms and wraps it in ``DistributedDataParallel``.
* :func:`spawn`: runs ``fn(rank, world_size, *args)`` in ``world_size`` spawned processes with an
  initialised process group (``gloo`` on CPU, ``nccl`` with one GPU per process); ``torchrun`` users
  call :func:`init_from_env` instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of each input is the sum of the outputs' gradients over processes."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        g = grad.clone()
        dist.all_reduce(g, op=dist.ReduceOp.SUM)
        return g


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over all processes, differentiable (gradients are summed over processes too)."""
    out: torch.Tensor = _AllReduceSum.apply(x)  # type: ignore[no-untyped-call]
    return out


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over ``(N, C, ...)`` with statistics of the batch across all DDP processes.

    Same parameters, buffers and state-dict keys as ``nn.BatchNorm1d/2d``; outside training, or
    without an initialised process group, it is a plain batch norm. The variance is the two-pass
    ``mean((x - mean)^2)`` over the global batch (biased for normalising, unbiased for the running
    estimate, as torch does).
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm expects (N, C, ...) input, got shape {tuple(input.shape)}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            out: torch.Tensor = super().forward(input)
            return out
        dims = [0] + list(range(2, input.ndim))
        shape = [1, -1] + [1] * (input.ndim - 2)
        count = torch.tensor([input.numel() / input.shape[1]], dtype=input.dtype, device=input.device)
        sums = all_reduce_sum(torch.cat([input.sum(dim=dims), count]))
        n = sums[-1]
        mean = sums[:-1] / n
        centred = input - mean.reshape(shape)
        var = all_reduce_sum((centred * centred).sum(dim=dims)) / n
        y = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                assert self.num_batches_tracked is not None
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1).clamp(min=1)), alpha=m)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm1d/2d/3d`` in ``module`` by a :class:`SyncBatchNorm` with the same state (in place)."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, SyncBatchNorm):
            new = SyncBatchNorm(child.num_features, eps=child.eps, momentum=child.momentum, affine=child.affine,
                                track_running_stats=child.track_running_stats)
            new.load_state_dict(child.state_dict())
            ref = next(iter(child.state_dict().values()), None)
            if ref is not None:
                new.to(ref.device)
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_batchnorm(child)
    return module


def wrap_ddp(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with synchronised batch norms inside ``DistributedDataParallel`` (process group required)."""
    from torch.nn.parallel import DistributedDataParallel

    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError("DDP training needs an initialised process group (use soundloc.train.ddp.spawn or torchrun)")
    convert_batchnorm(model)
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)  # SyncBatchNorm keeps buffers equal


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world_size: int, init_method: str, backend: str, threads: int,
            fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    try:
        fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable[..., Any], world_size: int, *args: Any, backend: str = "gloo", threads: int | None = None) -> None:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` spawned processes with a process group.

    ``fn`` must be importable (a module-level function). ``threads``: torch threads per process
    (default: the CPU count divided by ``world_size``). An exception in a process is raised here.
    """
    if world_size < 1:
        raise ValueError(f"the number of processes must be >= 1, got {world_size}")
    import torch.multiprocessing as mp

    n = threads if threads is not None else max(1, (os.cpu_count() or 1) // world_size)
    init = f"tcp://127.0.0.1:{_free_port()}"
    mp.spawn(_worker, args=(world_size, init, backend, n, fn, args), nprocs=world_size, join=True)  # type: ignore[no-untyped-call]


def init_from_env(backend: str = "gloo") -> tuple[int, int]:
    """Initialise the process group from ``torchrun``'s environment; returns ``(rank, world_size)``."""
    dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()
