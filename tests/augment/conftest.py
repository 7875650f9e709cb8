"""Seed torch's global RNG before each augmentation test (test data drawn with torch.randn is then fixed)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    torch.manual_seed(1234)
