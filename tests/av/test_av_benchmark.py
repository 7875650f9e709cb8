"""The built-in audio-visual benchmark: determinism, exact boxes and masks, kinds, sound/picture matching."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from soundloc.av.dataset import NEGATIVE_KINDS, AVDataset, collate_av
from soundloc.av.glyphs import DIGIT_FONTS, render_digit
from soundloc.av.sounds import AV_FS, DigitSpeechBank, digit_speech_bank
from soundloc.av.synthetic import (
    KINDS,
    SHARD_SIZE,
    AVBenchConfig,
    AVSample,
    SyntheticAVDataset,
    make_sample,
    split_fonts,
    split_voices,
)
from soundloc.metrics.av import gt_map_from_boxes

CFG = AVBenchConfig(n_voices=8, sizes=(300, 100, 100), seed=3)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("avcache")


@pytest.fixture(scope="module")
def bank(cache: Path) -> DigitSpeechBank:
    return digit_speech_bank(n_voices=8, seed=3, cache_dir=cache)


@pytest.fixture(scope="module")
def train(bank: DigitSpeechBank) -> list[AVSample]:
    t0 = time.perf_counter()
    out = [make_sample(CFG, "train", i, bank) for i in range(300)]
    print(f"\n300 samples generated in {time.perf_counter() - t0:.2f} s")  # speed is reported, not asserted
    return out


def _same(a: AVSample, b: AVSample) -> bool:
    return (a.kind == b.kind and np.array_equal(a.frame, b.frame) and np.array_equal(a.audio, b.audio)
            and np.array_equal(a.object_map, b.object_map) and np.array_equal(a.object_boxes, b.object_boxes)
            and np.array_equal(a.object_digits, b.object_digits) and np.array_equal(a.object_sounding, b.object_sounding)
            and np.array_equal(a.spoken, b.spoken))


def test_glyphs_are_tight_and_keep_their_holes() -> None:
    for font in DIGIT_FONTS:
        for d in (0, 8):
            g = render_digit(d, font, height=40)
            assert g[0].any() and g[-1].any() and g[:, 0].any() and g[:, -1].any()
            assert 36 <= g.shape[0] <= 44
            _, n_background = ndimage.label(~np.pad(g, 1))
            assert n_background >= (2 if d == 0 else 3), (font, d)  # outside + the holes stay open
    r = render_digit(1, DIGIT_FONTS[0], height=40, angle_deg=90)
    assert r.shape[1] > r.shape[0]  # lying on its side
    with pytest.raises(ValueError, match="digit"):
        render_digit(10, DIGIT_FONTS[0], height=20)


def test_speech_bank_cached_and_deterministic(bank: DigitSpeechBank, cache: Path) -> None:
    assert bank.path.is_file() and bank.path.parent == cache
    x = bank.get(7, 3)
    assert x.dtype == np.float32 and 0.15 * AV_FS < x.size < 1.5 * AV_FS and np.max(np.abs(x)) == pytest.approx(0.9, abs=1e-6)
    from soundloc.av import sounds

    sounds._MEMO.clear()
    again = digit_speech_bank(n_voices=8, seed=3, cache_dir=cache)  # read back from the file
    assert again is not bank and np.array_equal(again.audio, bank.audio)
    with pytest.raises(ValueError, match="voice"):
        bank.get(0, 8)


def test_deterministic_from_seed_and_index(bank: DigitSpeechBank, train: list[AVSample]) -> None:
    for i in (0, 17, 299):
        assert _same(make_sample(CFG, "train", i, bank), train[i])
    assert not np.array_equal(train[0].frame, train[1].frame)
    other = AVBenchConfig(n_voices=8, sizes=(300, 100, 100), seed=4)
    with pytest.raises(ValueError, match="does not match"):
        make_sample(other, "train", 0, bank)


def test_kind_proportions_exact_per_block(train: list[AVSample]) -> None:
    want = dict(zip(KINDS, CFG.kind_counts().tolist()))
    assert want == {"single": 50, "double": 15, "offscreen": 15, "silent": 10, "noise": 10}
    for b in range(3):
        assert Counter(s.kind for s in train[100 * b : 100 * (b + 1)]) == want
    assert AVBenchConfig(kind_shares=(0.333, 0.333, 0.334, 0.0, 0.0)).kind_counts().sum() == 100


def test_boxes_and_masks_are_exact(train: list[AVSample]) -> None:
    for s in train:
        h, w = s.object_map.shape
        ids = set(np.unique(s.object_map).tolist()) - {0}
        assert ids == set(range(1, s.object_digits.size + 1))
        for i, (x0, y0, x1, y1) in enumerate(s.object_boxes):
            m = s.object_map == i + 1
            inside = np.zeros_like(m)
            inside[y0:y1, x0:x1] = True
            assert not (m & ~inside).any()  # every object pixel inside its box
            assert m[y0].any() and m[y1 - 1].any() and m[:, x0].any() and m[:, x1 - 1].any()  # tight
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            # painted in one colour family, different from the background around it
            assert (s.frame[:, m].astype(int).std(axis=1) < 40).all()
        # boxes do not overlap, so masks never occlude one another
        for a in range(len(s.object_boxes)):
            for b in range(a + 1, len(s.object_boxes)):
                p, q = s.object_boxes[a], s.object_boxes[b]
                assert p[2] <= q[0] or q[2] <= p[0] or p[3] <= q[1] or q[3] <= p[1]
        assert np.array_equal(s.mask, np.isin(s.object_map, np.flatnonzero(s.object_sounding) + 1))
        gt = gt_map_from_boxes(s.boxes, "vggss", size=h)
        assert not (s.mask & (gt == 0)).any()
        assert (s.mask.sum() > 0) == (s.kind in ("single", "double")) == (len(s.boxes) > 0)


def test_classes_and_sounds_match(bank: DigitSpeechBank, train: list[AVSample]) -> None:
    for s in train:
        n_on = {"single": 1, "double": 2}.get(s.kind, 0)
        assert len(s.boxes) == n_on and len(s.labels) == n_on
        assert sorted(s.labels.tolist()) == sorted(s.spoken.tolist()[:n_on])
        assert len(s.spoken) == {"single": 1, "double": 2, "offscreen": 1}.get(s.kind, 0)
        silent_digits = s.object_digits[~s.object_sounding]
        assert not set(silent_digits.tolist()) & set(s.spoken.tolist())  # distractors are never heard
        if s.kind in ("offscreen", "silent", "noise"):
            assert s.object_digits.size >= 1 and not s.object_sounding.any()
        rms = float(np.sqrt(np.mean(s.audio.astype(np.float64) ** 2)))
        assert (rms < 1e-3) == (s.kind == "silent")
        assert s.audio.dtype == np.float32 and s.audio.shape == (CFG.n_samples,)
        assert np.array_equal(np.round(s.audio * 32768), s.audio * 32768)  # on the int16 grid


def test_audio_holds_the_spoken_digit(bank: DigitSpeechBank, train: list[AVSample]) -> None:
    """Matched filtering against every digit of the split's voices picks the digit that was said."""
    voices = split_voices("train", 8)
    nfft = 1 << 16
    refs = {(d, v): np.conj(np.fft.rfft(bank.get(d, v).astype(np.float64), nfft)) / np.linalg.norm(bank.get(d, v))
            for d in range(10) for v in voices}
    singles = [s for s in train if s.kind in ("single", "offscreen")][:12]
    for s in singles:
        x = s.audio.astype(np.float64)
        spec = np.fft.rfft(x, nfft) / np.linalg.norm(x)
        score = np.zeros(10)
        for (d, _v), ref in refs.items():
            score[d] = max(score[d], float(np.max(np.abs(np.fft.irfft(spec * ref, nfft)))))
        assert int(np.argmax(score)) == int(s.spoken[0]) and score.max() > 0.5


def test_splits_use_disjoint_voices_and_fonts() -> None:
    vs = [set(split_voices(sp, 16)) for sp in ("train", "val", "test")]
    fs = [set(split_fonts(sp)) for sp in ("train", "val", "test")]
    for group in (vs, fs):
        assert all(group) and not (group[0] & group[1] or group[0] & group[2] or group[1] & group[2])
    assert set().union(*vs) == set(range(16)) and set().union(*fs) == set(DIGIT_FONTS)


def test_dataset_cache_and_interface(cache: Path, train: list[AVSample]) -> None:
    ds = SyntheticAVDataset("train", CFG, cache_dir=cache)
    assert len(ds) == 300
    item = ds[5]
    assert item["frame"].shape == (3, 128, 128) and item["frame"].dtype == torch.float32
    assert 0 <= float(item["frame"].min()) and float(item["frame"].max()) <= 1
    assert item["audio"].shape == (AV_FS,) and item["mask"].dtype == torch.bool and item["kind"] in KINDS
    assert torch.equal(item["boxes"], torch.from_numpy(train[5].boxes))
    # the built-in benchmark is one AVDataset: gt_map = binary union of the boxes, mask = the exact object pixels
    assert isinstance(ds, AVDataset) and ds.box_format == "vggss" and ds.annotated and item["annotated"]
    for i in range(12):
        it, s = ds[i], train[i]
        assert torch.equal(it["gt_map"], torch.from_numpy(gt_map_from_boxes(s.boxes, "vggss", size=128)))
        assert torch.equal(it["mask"], torch.from_numpy(s.mask)) and not bool((it["mask"] & (it["gt_map"] == 0)).any())
        assert it["id"] == f"train-{i:06d}" and it["label"] == "+".join(ds.class_names[d] for d in s.spoken)
        assert (s.kind in NEGATIVE_KINDS) == (len(s.boxes) == 0)
    shard = ds.cache_folder / "shard_00000.npz" if ds.cache_folder else None
    assert shard is not None and shard.is_file()
    fresh = SyntheticAVDataset("train", CFG, cache_dir=cache)  # reads the shard written above
    for i in (0, 5, SHARD_SIZE - 1, SHARD_SIZE, 299, -1):
        assert _same(fresh.sample(i), train[i % 300])
    nocache = SyntheticAVDataset("train", CFG, cache=False, cache_dir=cache)
    assert nocache.cache_folder is None and _same(nocache.sample(42), train[42])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate_av)
    batch = next(iter(loader))
    assert batch["frame"].shape == (4, 3, 128, 128) and batch["audio"].shape == (4, AV_FS)
    assert len(batch["boxes"]) == 4 and batch["index"].tolist() == [0, 1, 2, 3]
    with pytest.raises(IndexError):
        ds.sample(300)
    with pytest.raises(ValueError, match="split"):
        SyntheticAVDataset("dev", CFG, cache_dir=cache)


def test_damaged_shard_is_regenerated(cache: Path, train: list[AVSample]) -> None:
    ds = SyntheticAVDataset("train", CFG, cache_dir=cache)
    ds.sample(0)
    assert ds.cache_folder is not None
    (ds.cache_folder / "shard_00000.npz").write_bytes(b"broken")
    again = SyntheticAVDataset("train", CFG, cache_dir=cache)
    assert _same(again.sample(3), train[3])


@pytest.mark.parametrize("kw, match", [
    ({"image_size": 8}, "image_size"), ({"n_voices": 4}, "n_voices"), ({"kind_shares": (1.0, 0, 0, 0, 0.5)}, "kind_shares"),
    ({"digit_height": (0.5, 0.2)}, "digit_height"), ({"sizes": (1, 2)}, "sizes"), ({"max_distractors": 9}, "max_distractors"),
])
def test_config_validation(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        AVBenchConfig(**kw)
