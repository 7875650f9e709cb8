"""resolve_device: the one torch device check."""

from __future__ import annotations

import pytest
import torch

from soundloc.device import resolve_device


def test_cpu_and_device_objects() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["toaster", "gpu0", ""])
def test_unknown_device_is_a_value_error(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown torch device"):
        resolve_device(spec)
    with pytest.raises(ValueError, match="^--device: unknown device"):
        resolve_device(spec, option="--device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_unavailable_cuda_names_the_culprit() -> None:
    with pytest.raises(ValueError, match="device 'cuda:1': no CUDA GPU"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match="^--device cuda: no CUDA GPU.*--device cpu$"):
        resolve_device("cuda", option="--device")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_available_cuda() -> None:
    assert resolve_device("cuda").type == "cuda"


def test_auto_is_cuda_when_available_else_cpu() -> None:
    assert resolve_device("auto", option="--device") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
