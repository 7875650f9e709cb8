"""soundloc.scenes.demo: the demo's scene, built from the scenes/ parts, checked against geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scene_helpers import CLASSES, make_corpus

from soundloc.corpus import folder_corpus
from soundloc.geometry import SPEED_OF_SOUND, MicArray
from soundloc.scenes.demo import DEMO_FS, PEAK_DBFS, draw_scene, make_demo_mixture, render_scene
from soundloc.scenes.rir import rir_delay_samples


def test_direct_sound_arrives_when_the_geometry_says() -> None:
    """An impulse from each drawn source reaches each mic after |src - mic| / c (+ the ISM filter delay)."""
    rng = np.random.default_rng(5)
    arr = MicArray.preset("circular4")
    for _ in range(3):
        scene = draw_scene(rng, num_sources=1, rt60=0.3)
        mics = arr.placed(scene.array_center.tolist())
        impulse = np.zeros((1, DEMO_FS // 2))
        impulse[0, 0] = 1.0
        mix, rt = render_scene(scene, mics, impulse, DEMO_FS, float("inf"), rng)
        assert np.abs(mix).max() == pytest.approx(10 ** (PEAK_DBFS / 20), rel=1e-6)
        assert 0.15 < rt < 0.6
        want = np.linalg.norm(mics - scene.sources[0], axis=1) / SPEED_OF_SOUND * DEMO_FS + rir_delay_samples("ism")
        got = np.argmax(np.abs(mix), axis=1)
        np.testing.assert_allclose(got, want, atol=1.0)


def test_rt60_and_source_count_are_checked() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rt60"):
        draw_scene(rng, 2, rt60=3.0)
    with pytest.raises(ValueError, match="num_sources"):
        draw_scene(rng, 5)


def test_make_demo_mixture_is_a_function_of_the_seed(tmp_path: Path) -> None:
    corpus = folder_corpus(make_corpus(tmp_path / "c", clips_per_class=2))
    arr = MicArray.preset("circular4")
    a = make_demo_mixture(arr, corpus, seed=3, duration=0.5, classes=list(CLASSES))
    b = make_demo_mixture(arr, corpus, seed=3, duration=0.5, classes=list(CLASSES))
    c = make_demo_mixture(arr, corpus, seed=4, duration=0.5, classes=list(CLASSES))
    assert a.mixture.shape == (4, DEMO_FS // 2) and a.mixture.dtype == np.float32
    np.testing.assert_array_equal(a.mixture, b.mixture)
    assert not np.array_equal(a.mixture, c.mixture)
    assert len({clip.label for clip in a.clips}) == 2
    d = a.scene.sources - a.scene.array_center
    np.testing.assert_allclose(np.degrees(np.arctan2(d[:, 1], d[:, 0])), a.scene.azimuth, atol=1e-9)
    with pytest.raises(ValueError, match="unknown sound class 'kazoo'"):
        make_demo_mixture(arr, corpus, seed=0, classes=["kazoo", CLASSES[0]])
