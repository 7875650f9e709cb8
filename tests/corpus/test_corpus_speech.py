"""Tests for the eSpeak NG wrapper used by the built-in speech classes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from soundloc.corpus import recipes
from soundloc.corpus.speech import NUMBER_LANGUAGES, WORDS, SpeechRecipe, espeak_version, synthesize


def test_breathy_voice_is_reproducible():
    # Variants with breath noise use eSpeak's random generator; each call must give the same
    # samples (the worker seeds it and runs in a fresh process).
    rec = SpeechRecipe("guten Morgen, vielen Dank", "de+Alicia", rate=159, pitch=86, range=41, seed=5)
    outs = [synthesize(rec)[0] for _ in range(5)]
    for y in outs[1:]:
        np.testing.assert_array_equal(outs[0], y)
    other_seed = synthesize(SpeechRecipe(rec.text, rec.voice, rec.rate, rec.pitch, rec.range, seed=6))[0]
    assert not np.array_equal(outs[0], other_seed)


def test_output_format_and_parameters_matter():
    x, fs = synthesize(SpeechRecipe("the quick brown fox", "en+m3", rate=175))
    assert fs == 22050 and x.dtype == np.float32 and x.ndim == 1
    assert 0.5 < x.size / fs < 3.0
    assert 0.05 < np.max(np.abs(x)) <= 1.0
    slow, _ = synthesize(SpeechRecipe("the quick brown fox", "en+m3", rate=100))
    assert slow.size > 1.4 * x.size


def test_unknown_voice_is_an_error():
    with pytest.raises(RuntimeError, match="not found"):
        synthesize(SpeechRecipe("hello", "xx+nobody"))


def test_all_languages_exist():
    for lang in list(WORDS) + list(NUMBER_LANGUAGES):  # an unknown language is an error
        assert synthesize(SpeechRecipe("12", f"{lang}+f1"))[0].size > 0


def test_variants_exist_with_the_right_gender():
    # eSpeak silently ignores an unknown variant, so check the variant files themselves.
    import espeakng_loader

    folder = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    for names, gender in ((recipes.FEMALE_VARIANTS, "female"), (recipes.MALE_VARIANTS, "male")):
        for v in names:
            text = (folder / v).read_text(errors="replace")
            found = re.search(r"^gender\s+(\w+)", text, re.M)
            assert (found.group(1) if found else "male") == gender, v
    plain = synthesize(SpeechRecipe("12", "en"))[0]
    varied = synthesize(SpeechRecipe("12", "en+f3"))[0]
    assert plain.shape != varied.shape or not np.array_equal(plain, varied)


def test_version_string():
    assert espeak_version()[0].isdigit()
