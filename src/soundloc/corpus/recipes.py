"""Sound classes of the built-in corpus and how each draws a random clip recipe.

Every class in :data:`BUILTIN_CLASSES` maps to a :class:`ClassSpec` whose ``draw(rng)``
returns a :class:`~soundloc.corpus.gm.GMRecipe` (sampled General MIDI instruments and sound
effects) or a :class:`~soundloc.corpus.speech.SpeechRecipe` (eSpeak NG). Variety inside a
class comes from the program (instrument variant), key range, velocities, tempo, pattern
(melody, chord, arpeggio, strum, drum groove...), slight detuning, and for speech the
language, voice variant, speed, pitch and text. Draws use only the given
``numpy.random.Generator`` so a clip is a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from .gm import GMRecipe, Note
from .speech import NUMBER_LANGUAGES, WORDS, SpeechRecipe

__all__ = ["BUILTIN_CLASSES", "DEFAULT_CLASSES", "ClassSpec", "Recipe"]

Recipe = Union[GMRecipe, SpeechRecipe]

_MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
}


@dataclass(frozen=True)
class ClassSpec:
    name: str
    description: str
    draw: Callable[[np.random.Generator], Recipe]


# ---------------------------------------------------------------------------
# musical helpers
# ---------------------------------------------------------------------------


def _scale_keys(rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    mode = _MODES[str(rng.choice(list(_MODES)))]
    root = int(rng.integers(0, 12))
    keys = [k for k in range(lo, hi + 1) if (k - root) % 12 in mode]
    return np.array(keys)


def _vel(rng: np.random.Generator, base: int, spread: int = 15) -> int:
    return int(np.clip(base + rng.integers(-spread, spread + 1), 20, 127))


def _melody(rng, lo, hi, *, n=(3, 8), length=(0.12, 0.5), legato=(0.6, 1.0), total=2.4):
    keys = _scale_keys(rng, lo, hi)
    count = int(rng.integers(n[0], n[1] + 1))
    step = float(rng.uniform(*length))
    base = int(rng.integers(55, 120))
    i = int(rng.integers(len(keys)))
    notes, t = [], 0.0
    for _ in range(count):
        dur = step * float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
        if t + dur > total:
            break
        notes.append(Note(t, int(keys[i]), _vel(rng, base), dur * float(rng.uniform(*legato))))
        t += dur
        i = int(np.clip(i + rng.integers(-3, 4), 0, len(keys) - 1))
    if not notes:
        notes.append(Note(0.0, int(keys[i]), _vel(rng, base), min(step, total)))
    return tuple(notes)


def _chord(rng, lo, hi, *, length=(0.5, 2.0), strum=(0.0, 0.0), n=(3, 4)):
    keys = _scale_keys(rng, lo, hi)
    start = int(rng.integers(0, max(1, len(keys) - 6)))
    count = int(rng.integers(n[0], n[1] + 1))
    picks = [int(keys[min(start + 2 * j, len(keys) - 1)]) for j in range(count)]
    dur = float(rng.uniform(*length))
    gap = float(rng.uniform(*strum))
    base = int(rng.integers(60, 120))
    return tuple(Note(j * gap, k, _vel(rng, base, 8), dur) for j, k in enumerate(sorted(set(picks))))


def _arpeggio(rng, lo, hi, *, step=(0.08, 0.25), n=(4, 10), total=2.4):
    keys = _scale_keys(rng, lo, hi)
    start = int(rng.integers(0, max(1, len(keys) - 8)))
    shape = [0, 2, 4, 7, 4, 2] if rng.random() < 0.5 else [0, 2, 4, 7, 9, 11]
    count = int(rng.integers(n[0], n[1] + 1))
    dt = float(rng.uniform(*step))
    base = int(rng.integers(55, 115))
    notes = []
    for j in range(count):
        t = j * dt
        if t + dt > total:
            break
        k = int(keys[min(start + shape[j % len(shape)], len(keys) - 1)])
        notes.append(Note(t, k, _vel(rng, base), dt * float(rng.uniform(1.0, 3.0))))
    return tuple(notes)


def _pitched(programs: dict[int, tuple[int, int]], patterns: dict[str, float], *,
             detune: float = 0.15, tail: float = 1.0, sustain: bool = False):
    """Class drawer for pitched instruments. ``programs``: {program: (low key, high key)};
    ``patterns``: {pattern name: weight}."""
    names = list(patterns)
    w = np.array([patterns[k] for k in names], dtype=float)
    w /= w.sum()
    progs = sorted(programs)

    def draw(rng: np.random.Generator) -> GMRecipe:
        prog = int(rng.choice(progs))
        lo, hi = programs[prog]
        kind = names[int(rng.choice(len(names), p=w))]
        if kind == "melody":
            length = (0.3, 0.8) if sustain else (0.12, 0.45)
            notes = _melody(rng, lo, hi, length=length)
        elif kind == "chord":
            notes = _chord(rng, lo, hi, length=(0.8, 2.2) if sustain else (0.4, 1.5))
        elif kind == "strum":
            notes = _chord(rng, lo, hi, strum=(0.015, 0.05), n=(4, 6), length=(0.6, 1.8))
        elif kind == "arpeggio":
            notes = _arpeggio(rng, lo, hi)
        elif kind == "long":
            k = int(rng.integers(lo, hi + 1))
            notes = (Note(0.0, k, _vel(rng, 95, 25), float(rng.uniform(0.6, 2.2))),)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        return GMRecipe(prog, notes, tuning=float(rng.uniform(-detune, detune)), tail=tail)

    return draw


# ---------------------------------------------------------------------------
# drums, effects, sirens
# ---------------------------------------------------------------------------

_KITS = (0, 8, 16, 24, 25, 32, 40)  # standard, room, power, electronic, TR-808, jazz, brush
_KICK, _SNARES, _HATS = (35, 36), (38, 40, 37), (42, 44, 46)
_TOMS, _CYMBALS = (41, 43, 45, 47, 48, 50), (49, 51, 52, 55, 57, 59)


def _drums(rng: np.random.Generator) -> GMRecipe:
    kit = int(rng.choice(_KITS))
    beat = 60.0 / float(rng.uniform(80, 160)) / 2  # eighth-note length
    steps = int(min(16, 2.6 // beat))
    style = str(rng.choice(["groove", "groove", "fill", "hits"]))
    kick, snare, hat = int(rng.choice(_KICK)), int(rng.choice(_SNARES)), int(rng.choice(_HATS))
    notes = []
    for s in range(steps):
        t = s * beat
        if style == "groove":
            if s % 4 == 0 or rng.random() < 0.12:
                notes.append(Note(t, kick, _vel(rng, 105), 0.1))
            if s % 4 == 2:
                notes.append(Note(t, snare, _vel(rng, 100), 0.1))
            if rng.random() < 0.85:
                notes.append(Note(t, hat, _vel(rng, 75, 25), 0.05))
        elif style == "fill":
            notes.append(Note(t, int(rng.choice(_TOMS + _SNARES)), _vel(rng, 100), 0.1))
        else:  # sparse hits of anything, cymbals included
            if rng.random() < 0.5:
                notes.append(Note(t, int(rng.choice(_KICK + _SNARES + _TOMS + _CYMBALS)),
                                  _vel(rng, 100), 0.1))
    if style != "groove" or rng.random() < 0.3:
        notes.append(Note(steps * beat, int(rng.choice(_CYMBALS + _KICK)), _vel(rng, 105), 0.1))
    if not notes:
        notes.append(Note(0.0, kick, 110, 0.1))
    return GMRecipe(kit, tuple(notes), drums=True, tail=1.2)


def _siren(rng: np.random.Generator) -> GMRecipe:
    """Saw/square lead with pitch-bend automation: wail, yelp or two-tone (hi-lo)."""
    prog = int(rng.choice([80, 81, 86, 82]))
    dur = float(rng.uniform(1.2, 2.8))
    key = int(rng.integers(62, 80))
    style = str(rng.choice(["wail", "yelp", "hilo"]))
    depth = float(rng.uniform(4.0, 9.0))
    if style == "wail":
        period = float(rng.uniform(0.8, 2.5))
        ts = np.arange(0.0, dur + 0.05, 0.05)
        bend = tuple((float(t), float(depth * (0.5 - 0.5 * np.cos(2 * np.pi * t / period))))
                     for t in ts)
    elif style == "yelp":
        period = float(rng.uniform(0.12, 0.3))
        ts = np.arange(0.0, dur + 0.02, 0.02)
        bend = tuple((float(t), float(depth * ((t / period) % 1.0))) for t in ts)
    else:
        half = float(rng.uniform(0.25, 0.6))
        steps: list[tuple[float, float]] = []
        t, hi = 0.0, False
        while t < dur:
            v = depth if hi else 0.0
            steps += [(t, v), (t + half - 1e-3, v)]
            t += half
            hi = not hi
        bend = tuple(steps)
    note = Note(0.0, key, _vel(rng, 100), dur)
    return GMRecipe(prog, (note,), bend=bend, bend_range=12.0, tail=0.3)


def _bird(rng: np.random.Generator) -> GMRecipe:
    """GM 'Bird Tweet': low keys play a multi-tweet sample, high keys a single chirp."""
    if rng.random() < 0.4:
        key = int(rng.integers(40, 50))
        notes = [Note(0.0, key, _vel(rng, 100), 1.6)]
        if rng.random() < 0.5:
            notes.append(Note(float(rng.uniform(0.8, 1.4)), int(rng.integers(40, 50)),
                              _vel(rng, 90), 1.2))
        return GMRecipe(123, tuple(notes), tail=0.8)
    notes, t = [], 0.0
    for _ in range(int(rng.integers(4, 12))):
        notes.append(Note(t, int(rng.integers(54, 80)), _vel(rng, 95), 0.2))
        t += float(rng.uniform(0.06, 0.35))
        if t > 2.4:
            break
    return GMRecipe(123, tuple(notes), tail=0.3)


def _telephone(rng: np.random.Generator) -> GMRecipe:
    """GM 'Telephone Ring' (a short one-shot) repeated into one or two ring bursts."""
    key = int(rng.integers(44, 60))
    period = 0.44 * 2 ** ((48 - key) / 12)  # sample length scales with pitch
    reps = int(rng.integers(2, 6))
    bursts = 1 if rng.random() < 0.5 else 2
    gap = float(rng.uniform(0.3, 0.8))
    notes, t = [], 0.0
    vel = _vel(rng, 100)
    for _ in range(bursts):
        for _ in range(reps):
            notes.append(Note(t, key, vel, period))
            t += period
        t += gap
        if t > 2.2:
            break
    return GMRecipe(124, tuple(notes), tail=0.5)


def _texture(program: int, keys: tuple[int, int], dur: tuple[float, float]):
    """Looping sound effects (helicopter, applause, seashore): one sustained note."""

    def draw(rng: np.random.Generator) -> GMRecipe:
        note = Note(0.0, int(rng.integers(keys[0], keys[1] + 1)), _vel(rng, 100),
                    float(rng.uniform(*dur)))
        return GMRecipe(program, (note,), tail=0.4)

    return draw


def _gunshot(rng: np.random.Generator) -> GMRecipe:
    notes, t = [], 0.0
    for _ in range(int(rng.integers(1, 4))):
        notes.append(Note(t, int(rng.integers(48, 72)), _vel(rng, 110), 0.1))
        t += float(rng.uniform(0.15, 0.7))
    return GMRecipe(127, tuple(notes), tail=1.2)


# ---------------------------------------------------------------------------
# speech
# ---------------------------------------------------------------------------

FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Annie", "Alicia", "Andrea", "anika",
                   "aunty", "belinda", "linda", "steph")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "adam", "david", "ed", "edward",
                 "john", "max", "norbert", "paul", "robert")


def _sentence(rng: np.random.Generator) -> tuple[str, str]:
    """(language, text): phrase fragments in en/de/fr/es/it, or numbers in other languages."""
    if rng.random() < 0.25:
        lang = str(rng.choice(NUMBER_LANGUAGES))
        nums = [str(int(rng.integers(2, 1000))) for _ in range(int(rng.integers(1, 4)))]
        return lang, ", ".join(nums)
    lang = str(rng.choice(list(WORDS), p=[0.4, 0.15, 0.15, 0.15, 0.15]))
    words = WORDS[lang]
    k = int(rng.integers(1, 4))
    return lang, " ".join(words[int(i)] for i in rng.choice(len(words), size=k, replace=False))


def _speech(variants: tuple[str, ...], pitch: tuple[int, int]):
    def draw(rng: np.random.Generator) -> SpeechRecipe:
        lang, text = _sentence(rng)
        return SpeechRecipe(
            text=text,
            voice=f"{lang}+{rng.choice(variants)}",
            rate=int(rng.integers(120, 230)),
            pitch=int(rng.integers(*pitch)),
            range=int(rng.integers(20, 90)),
            seed=int(rng.integers(0, 2**31 - 1)),
        )

    return draw


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------

_M, _C, _A, _S, _L = "melody", "chord", "arpeggio", "strum", "long"

BUILTIN_CLASSES: dict[str, ClassSpec] = {
    spec.name: spec
    for spec in [
        ClassSpec("piano", "acoustic/bright/electric grand and honky-tonk piano (GM 0-3)",
                  _pitched({0: (36, 96), 1: (36, 96), 2: (36, 96), 3: (40, 90)},
                           {_M: 3, _C: 2, _A: 2})),
        ClassSpec("guitar", "nylon, steel, jazz, clean and overdriven guitar (GM 24-27, 29)",
                  _pitched({24: (40, 76), 25: (40, 79), 26: (40, 79), 27: (40, 79),
                            29: (40, 76)}, {_M: 2, _S: 3, _A: 2})),
        ClassSpec("strings", "violin, viola, cello, tremolo and ensemble strings (GM 40-42, 44, 48-49)",
                  _pitched({40: (55, 93), 41: (48, 81), 42: (36, 69), 44: (43, 84),
                            48: (40, 84), 49: (40, 84)}, {_M: 3, _C: 2, _L: 1}, sustain=True)),
        ClassSpec("brass", "trumpet, trombone, tuba, muted trumpet, horn, brass section (GM 56-61)",
                  _pitched({56: (55, 82), 57: (40, 70), 58: (28, 55), 59: (55, 82),
                            60: (41, 77), 61: (45, 77)}, {_M: 3, _C: 1, _L: 1}, sustain=True)),
        ClassSpec("woodwind", "oboe, clarinet, piccolo, flute, recorder, alto/tenor sax (GM 65-66, 68, 71-74)",
                  _pitched({65: (49, 80), 66: (44, 75), 68: (58, 89), 71: (50, 86),
                            72: (74, 102), 73: (60, 93), 74: (60, 91)},
                           {_M: 4, _L: 1}, sustain=True)),
        ClassSpec("organ", "drawbar, percussive, rock, church and reed organ (GM 16-20)",
                  _pitched({16: (36, 90), 17: (36, 90), 18: (36, 90), 19: (36, 84),
                            20: (40, 84)}, {_M: 2, _C: 3, _L: 1}, sustain=True)),
        ClassSpec("bass", "acoustic, fingered, picked, fretless, slap and synth bass (GM 32-36, 38)",
                  _pitched({32: (28, 55), 33: (28, 55), 34: (28, 55), 35: (28, 55),
                            36: (28, 55), 38: (28, 55)}, {_M: 4, _L: 1})),
        ClassSpec("drums", "drum kits (GM bank 128): grooves, tom fills, cymbal and drum hits",
                  _drums),
        ClassSpec("bells", "celesta, glockenspiel, music box, vibraphone, marimba, xylophone, "
                  "tubular bells (GM 8-14)",
                  _pitched({8: (60, 96), 9: (72, 105), 10: (60, 96), 11: (53, 89),
                            12: (48, 84), 13: (65, 96), 14: (55, 77)}, {_M: 3, _A: 2, _C: 1},
                           tail=1.5)),
        ClassSpec("choir", "choir aahs, voice oohs, synth voice (GM 52-54)",
                  _pitched({52: (48, 79), 53: (48, 79), 54: (48, 79)},
                           {_M: 2, _C: 3, _L: 1}, sustain=True)),
        ClassSpec("siren", "synth leads swept by pitch bend: wail, yelp and two-tone sirens",
                  _siren),
        ClassSpec("speech_female", "eSpeak NG female voice variants; en/de/fr/es/it phrases and "
                  "numbers in 10 more languages; random rate, pitch, intonation range",
                  _speech(FEMALE_VARIANTS, (40, 90))),
        ClassSpec("speech_male", "eSpeak NG male voice variants; en/de/fr/es/it phrases and "
                  "numbers in 10 more languages; random rate, pitch, intonation range",
                  _speech(MALE_VARIANTS, (15, 60))),
        ClassSpec("bird", "GM bird tweet: tweet sequences and chirps at random pitches", _bird),
        ClassSpec("telephone", "GM telephone ring: one or two ring bursts", _telephone),
        ClassSpec("helicopter", "GM helicopter: rotor noise at several rotor speeds",
                  _texture(125, (36, 72), (1.2, 2.6))),
        # available, not in the default set
        ClassSpec("applause", "GM applause", _texture(126, (48, 72), (1.2, 2.6))),
        ClassSpec("seashore", "GM seashore: waves", _texture(122, (48, 72), (1.5, 2.6))),
        ClassSpec("gunshot", "GM gunshot: one to three shots", _gunshot),
    ]
}
"""All built-in classes by name."""

DEFAULT_CLASSES: tuple[str, ...] = (
    "bass", "bells", "bird", "brass", "choir", "drums", "guitar", "helicopter", "organ", "piano",
    "siren", "speech_female", "speech_male", "strings", "telephone", "woodwind",
)
"""The 16 classes :func:`~soundloc.corpus.builtin_corpus` renders by default."""
