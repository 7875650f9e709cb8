"""Streaming normalisation statistics equal numpy's over the concatenation; JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.features.normalize import FeatureNormalizer, RunningStats


@pytest.mark.parametrize("per_bin", [False, True])
def test_streaming_fit_equals_numpy_over_concatenation(per_bin: bool) -> None:
    rng = np.random.default_rng(0)
    # batches of different sizes and frame counts, channel-dependent offsets and scales
    batches = [rng.normal(loc=[[[[5.0]], [[-3.0]], [[100.0]]]], scale=[[[[2.0]], [[0.1]], [[30.0]]]], size=(b, 3, t, 8))
               for b, t in [(4, 10), (1, 7), (7, 3), (2, 25)]]
    st = RunningStats(per_bin=per_bin)
    for i, b in enumerate(batches):
        st.update(torch.from_numpy(b.astype(np.float32)) if i % 2 else b)
    flat = np.concatenate([b.transpose(1, 0, 2, 3).reshape(3, -1, 8) for b in batches], axis=1)  # (C, all frames, F)
    axes = 1 if per_bin else (1, 2)
    np.testing.assert_allclose(st.mean, flat.mean(axis=axes), rtol=1e-6)
    np.testing.assert_allclose(st.std, flat.std(axis=axes), rtol=1e-6)
    assert st.count == flat.shape[1] * (1 if per_bin else 8)
    norm = st.normalizer()
    y = norm(torch.from_numpy(batches[3].astype(np.float32)))
    exp = (batches[3] - np.expand_dims(st.mean, (0, 2) if per_bin else (0, 2, 3))) / (
        np.expand_dims(st.std, (0, 2) if per_bin else (0, 2, 3)) + 1e-8)
    np.testing.assert_allclose(y.numpy(), exp, rtol=1e-4, atol=1e-4)


def test_save_load_roundtrip_and_errors(tmp_path) -> None:
    st = RunningStats(per_bin=True)
    st.update(np.random.default_rng(1).standard_normal((2, 4, 5, 6)))
    n = st.normalizer()
    n.save(tmp_path / "norm.json")
    m = FeatureNormalizer.load(tmp_path / "norm.json")
    x = torch.randn(3, 4, 9, 6)
    torch.testing.assert_close(m(x), n(x))
    assert "pickle" not in (tmp_path / "norm.json").read_text()
    with pytest.raises(ValueError, match="features must be"):
        m(torch.randn(3, 5, 9, 6))
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a soundloc feature normalizer"):
        FeatureNormalizer.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="no features"):
        RunningStats().mean  # noqa: B018
    with pytest.raises(ValueError, match="shape changed"):
        st.update(np.zeros((1, 3, 5, 6)))
