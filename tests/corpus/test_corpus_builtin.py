"""Tests for the built-in corpus: content, determinism, on-disk cache reuse and recovery."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
import soundfile as sf

from soundloc.audio import read_audio
from soundloc.corpus import (
    BUILTIN_CLASSES,
    CORPUS_FS,
    ClipRef,
    Corpus,
    builtin_corpus,
    default_cache_dir,
    get_corpus,
)
from soundloc.corpus import builtin as builtin_mod

SMALL = ("drums", "piano", "siren", "speech_female")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("soundloc_cache")


@pytest.fixture(scope="module")
def corpus(cache_root) -> Corpus:
    return builtin_corpus(cache_dir=cache_root)


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _forget_memo():
    builtin_mod._MEMO.clear()


# ---------------------------------------------------------------------------
# content
# ---------------------------------------------------------------------------


def test_default_corpus_shape(corpus, cache_root):
    assert corpus.name == "builtin"
    assert len(corpus.class_names) >= 12
    assert list(corpus.class_names) == sorted(corpus.class_names)
    assert [c.clip_id for c in corpus.clips] == sorted(c.clip_id for c in corpus.clips)
    assert len({c.clip_id for c in corpus.clips}) == len(corpus.clips)
    groups = corpus.by_class()
    assert list(groups) == list(corpus.class_names)
    assert all(len(v) == 8 for v in groups.values())
    for clip in corpus.clips:
        assert isinstance(clip, ClipRef)
        assert re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", clip.clip_id)
        assert clip.clip_id.startswith(clip.label + "/")
        assert clip.path.is_file() and cache_root in clip.path.parents


def test_every_clip_is_valid_audio(corpus):
    for clip in corpus.clips:
        # read_audio rejects silent, non-finite and heavily clipped audio
        x, fs = read_audio(clip.path, channels=1)
        assert fs == CORPUS_FS
        assert 0.5 <= x.shape[1] / fs <= 3.0, clip.clip_id
        assert np.max(np.abs(x)) == pytest.approx(0.9, abs=1e-3)
        assert np.sqrt(np.mean(x**2)) > 0.01, clip.clip_id  # not just a click
        # no long silent lead-in: trimmed to the first sound
        assert np.max(np.abs(x[0, : int(0.05 * fs)])) > 0.9 * 10 ** (-50 / 20)


def test_load_resamples_to_mono_unit_peak(corpus):
    clip = corpus.clips[5]
    n32 = sf.info(str(clip.path)).frames
    y = corpus.load(clip, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - n32 / 2) <= 2
    assert np.max(np.abs(y)) == pytest.approx(1.0, abs=1e-6)
    y[:] = 0  # callers get a copy: the cached array is not changed
    assert np.max(np.abs(corpus.load(clip.clip_id, 16000))) == pytest.approx(1.0, abs=1e-6)


def test_variety_inside_each_class(corpus):
    descs = {c["clip_id"]: c["desc"] for c in corpus.info["clips"]}
    for label, clips in corpus.by_class().items():
        hashes = {hashlib.md5(read_audio(c.path)[0].tobytes()).hexdigest() for c in clips}
        assert len(hashes) == len(clips), f"{label}: duplicate clips"
        d = [descs[c.clip_id] for c in clips]
        if d[0]["source"] == "espeak":
            assert len({x["voice"].split("+")[1] for x in d}) >= 3, label
            assert len({x["voice"].split("+")[0] for x in d}) >= 2, label
            assert len({x["rate"] for x in d}) >= 3, label
        else:
            assert len({tuple(x["keys"]) for x in d}) >= 3, label


def _centroid(x, fs):
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / fs)
    return float(np.sum(f * p) / np.sum(p))


def test_classes_have_their_own_spectral_character(corpus):
    groups = corpus.by_class()

    def mean_centroid(label):
        return np.median([_centroid(corpus.load(c, 16000), 16000) for c in groups[label]])

    bass, bells, bird, helicopter = (mean_centroid(k) for k in ("bass", "bells", "bird", "helicopter"))
    assert bass < 800 < bells, (bass, bells)
    assert bird > 2 * bass and helicopter > 2 * bass


def test_speech_pitch_female_above_male(corpus):
    """Median autocorrelation pitch of voiced frames: female voices above male ones."""

    def f0(x, fs=16000):
        est = []
        for s in range(0, x.size - 640, 320):
            fr = x[s : s + 640] - x[s : s + 640].mean()
            if np.sqrt(np.mean(fr**2)) < 0.05:
                continue
            ac = np.correlate(fr, fr, "full")[639:]
            lo, hi = fs // 400, fs // 60
            lag = lo + int(np.argmax(ac[lo:hi]))
            if ac[lag] > 0.4 * ac[0]:
                est.append(fs / lag)
        return np.median(est) if est else np.nan

    g = corpus.by_class()
    fem = np.nanmedian([f0(corpus.load(c, 16000)) for c in g["speech_female"]])
    male = np.nanmedian([f0(corpus.load(c, 16000)) for c in g["speech_male"]])
    assert fem > 1.3 * male, (fem, male)


# ---------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------


def test_same_call_returns_memoised_object(corpus, cache_root):
    assert builtin_corpus(cache_dir=cache_root) is corpus


def test_second_build_reuses_disk_cache(corpus, cache_root):
    before = dict(builtin_mod.RENDER_COUNTER)
    mtimes = {c.clip_id: c.path.stat().st_mtime_ns for c in corpus.clips}
    _forget_memo()
    again = builtin_corpus(cache_dir=cache_root)
    assert again is not corpus
    assert dict(builtin_mod.RENDER_COUNTER) == before
    assert [c.clip_id for c in again.clips] == [c.clip_id for c in corpus.clips]
    assert {c.clip_id: c.path.stat().st_mtime_ns for c in again.clips} == mtimes


def test_cache_folder_layout(corpus):
    folder = corpus.root
    assert re.fullmatch(r"builtin-v\d+-seed0-[0-9a-f]{12}", folder.name)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["params"]["seed"] == 0 and manifest["params"]["clips_per_class"] == 8
    assert len(manifest["clips"]) == len(corpus.clips)
    assert not list(folder.rglob("*.tmp"))


def test_partial_cache_is_completed_without_rerendering_intact_classes(tmp_path):
    kw = dict(cache_dir=tmp_path, classes=SMALL, clips_per_class=2, seed=3)
    c1 = builtin_corpus(**kw)
    folder = c1.root
    originals = {c.clip_id: _md5(c.path) for c in c1.clips}
    mtimes = {c.clip_id: c.path.stat().st_mtime_ns for c in c1.clips}
    # simulate an interrupted build: no manifest, piano class unfinished
    (folder / "manifest.json").unlink()
    (folder / "piano" / "_class.json").unlink()
    (folder / "piano" / "piano_001.flac").unlink()
    _forget_memo()
    before = dict(builtin_mod.RENDER_COUNTER)
    c2 = builtin_corpus(**kw, progress=True)
    delta = {k: builtin_mod.RENDER_COUNTER[k] - before.get(k, 0) for k in builtin_mod.RENDER_COUNTER}
    assert {k: v for k, v in delta.items() if v} == {"piano": 2}
    assert {c.clip_id: _md5(c.path) for c in c2.clips} == originals  # same audio again
    for c in c2.clips:
        if c.label != "piano":
            assert c.path.stat().st_mtime_ns == mtimes[c.clip_id]
    assert (folder / "manifest.json").is_file()


def test_corrupt_manifest_is_rebuilt_from_class_files(tmp_path):
    kw = dict(cache_dir=tmp_path, classes=("bird", "bass"), clips_per_class=2, seed=1)
    c1 = builtin_corpus(**kw)
    (c1.root / "manifest.json").write_text('{"name": "builtin", "par')
    _forget_memo()
    before = dict(builtin_mod.RENDER_COUNTER)
    c2 = builtin_corpus(**kw)
    assert dict(builtin_mod.RENDER_COUNTER) == before
    assert json.loads((c2.root / "manifest.json").read_text())["rendered_classes"] == []


def test_deleted_clip_is_noticed_even_when_memoised(tmp_path):
    kw = dict(cache_dir=tmp_path, classes=("telephone",), clips_per_class=2, seed=0)
    c1 = builtin_corpus(**kw)
    digest = _md5(c1.clips[0].path)
    c1.clips[0].path.unlink()
    c2 = builtin_corpus(**kw)
    assert c2.clips[0].path.is_file() and _md5(c2.clips[0].path) == digest


# ---------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------


def test_same_seed_same_audio_different_seed_different_audio(tmp_path):
    a = builtin_corpus(cache_dir=tmp_path / "a", classes=SMALL, clips_per_class=2, seed=7)
    b = builtin_corpus(cache_dir=tmp_path / "b", classes=SMALL, clips_per_class=2, seed=7)
    c = builtin_corpus(cache_dir=tmp_path / "c", classes=SMALL, clips_per_class=2, seed=8)
    assert a.root.name == b.root.name != c.root.name
    for ca, cb, cc in zip(a.clips, b.clips, c.clips):
        assert ca.clip_id == cb.clip_id == cc.clip_id
        xa, xb, xc = (read_audio(p.path)[0] for p in (ca, cb, cc))
        np.testing.assert_array_equal(xa, xb)
        assert xa.shape != xc.shape or not np.array_equal(xa, xc), ca.clip_id


def test_render_clip_is_independent_of_render_order():
    x1, d1 = builtin_mod.render_clip("speech_male", 4, seed=11)
    builtin_mod.render_clip("speech_female", 0, seed=2)  # other synthesis in between
    builtin_mod.render_clip("guitar", 1, seed=2)
    x2, d2 = builtin_mod.render_clip("speech_male", 4, seed=11)
    assert d1 == d2
    np.testing.assert_array_equal(x1, x2)


def test_silent_renders_are_redrawn(monkeypatch):
    real = builtin_mod._Renderers.render
    calls = {"n": 0}

    def sometimes_silent(self, recipe):
        calls["n"] += 1
        x, fs = real(self, recipe)
        return (np.zeros_like(x), fs) if calls["n"] <= 2 else (x, fs)

    monkeypatch.setattr(builtin_mod._Renderers, "render", sometimes_silent)
    x, desc = builtin_mod.render_clip("organ", 0, seed=0)
    assert desc["attempt"] == 2 and calls["n"] == 3
    assert np.max(np.abs(x)) == pytest.approx(0.9)

    monkeypatch.setattr(builtin_mod._Renderers, "render", lambda self, r: (np.zeros(32000, np.float32), 32000))
    with pytest.raises(RuntimeError, match="silent"):
        builtin_mod.render_clip("organ", 0, seed=0)


# ---------------------------------------------------------------------------
# arguments, get_corpus, cache location
# ---------------------------------------------------------------------------


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown built-in class"):
        builtin_corpus(cache_dir=tmp_path, classes=["piano", "kazoo"])
    with pytest.raises(ValueError, match="seed"):
        builtin_corpus(cache_dir=tmp_path, seed=-1)
    with pytest.raises(ValueError, match="clips_per_class"):
        builtin_corpus(cache_dir=tmp_path, clips_per_class=0)
    assert not list(tmp_path.iterdir())


def test_get_corpus(tmp_path, corpus, cache_root):
    got = get_corpus("builtin", cache_dir=cache_root)
    assert got.root == corpus.root and got.clips == corpus.clips
    with pytest.raises(ValueError, match="unknown corpus"):
        get_corpus(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="unknown corpus"):
        get_corpus("esc50")


def test_unwritable_cache_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeError, match="SOUNDLOC_CACHE"):
        builtin_corpus(cache_dir=blocker / "sub", classes=("bass",), clips_per_class=1)


def test_default_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SOUNDLOC_CACHE", str(tmp_path / "cc"))
    assert default_cache_dir() == tmp_path / "cc"
    monkeypatch.delenv("SOUNDLOC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "soundloc"


def test_optional_classes_render(tmp_path):
    extra = sorted(set(BUILTIN_CLASSES) - set(builtin_mod.DEFAULT_CLASSES))
    assert extra  # applause, gunshot, seashore
    c = builtin_corpus(cache_dir=tmp_path, classes=extra, clips_per_class=2)
    assert c.class_names == tuple(extra)
    for clip in c.clips:
        read_audio(clip.path)


def test_subset_and_label_index(corpus):
    sub = corpus.subset(["piano", "bird"])
    assert sub.class_names == ("bird", "piano") and len(sub) == 16
    assert corpus.label_index("piano") == corpus.class_names.index("piano")
    with pytest.raises(ValueError, match="unknown class"):
        corpus.label_index("kazoo")
    with pytest.raises(KeyError):
        corpus["nope/nope"]
