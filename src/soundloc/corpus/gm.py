"""Render General MIDI notes with TinySoundFont and the GM SoundFont shipped by pretty_midi.

``TimGM6mb.sf2`` (in pretty_midi's package folder) holds sampled instruments (bank 0,
programs 0-127, including the sound effects 120-127) and drum kits (bank 128). A
:class:`GMRecipe` is a short score for one channel; :class:`GMRenderer` plays it into a
mono float32 buffer. Rendering is deterministic: every clip starts from a reset channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GMRecipe", "GMRenderer", "Note", "soundfont_path"]


@dataclass(frozen=True)
class Note:
    """One note: onset ``start`` (s), MIDI ``key`` 0-127, ``velocity`` 1-127, ``length`` (s)."""

    start: float
    key: int
    velocity: int
    length: float


@dataclass(frozen=True)
class GMRecipe:
    """A score for one MIDI channel.

    ``program``: GM program 0-127 (or a drum kit number when ``drums``). ``bend``:
    ``(time_s, semitones)`` pitch-bend breakpoints, linearly interpolated every
    ``bend_step`` seconds (range +-``bend_range`` semitones). ``tuning``: detune in
    semitones. ``tail``: seconds rendered after the last note-off (release/decay).
    """

    program: int
    notes: tuple[Note, ...]
    drums: bool = False
    tuning: float = 0.0
    bend: tuple[tuple[float, float], ...] = ()
    bend_range: float = 12.0
    bend_step: float = 0.01
    tail: float = 1.0

    @property
    def end(self) -> float:
        """Time of the last note-off, in seconds."""
        return max(n.start + n.length for n in self.notes)

    def describe(self) -> dict:
        keys = sorted({n.key for n in self.notes})
        return {
            "source": "gm",
            "bank": 128 if self.drums else 0,
            "program": self.program,
            "notes": len(self.notes),
            "keys": keys,
            "velocities": [min(n.velocity for n in self.notes), max(n.velocity for n in self.notes)],
            "tuning": round(self.tuning, 3),
            "bend": bool(self.bend),
        }


def soundfont_path() -> Path:
    """Path of ``TimGM6mb.sf2`` inside the installed pretty_midi package."""
    try:
        import pretty_midi
    except ImportError as e:  # pragma: no cover - pretty_midi is a dependency
        raise RuntimeError("the built-in corpus needs pretty_midi (pip install pretty_midi)") from e
    p = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not p.is_file():  # pragma: no cover
        raise RuntimeError(f"General MIDI SoundFont not found at {p} (reinstall pretty_midi)")
    return p


class GMRenderer:
    """Plays :class:`GMRecipe` scores at ``fs`` Hz (mono float32 output)."""

    _CHAN = 0

    def __init__(self, fs: int) -> None:
        try:
            import tinysoundfont
        except ImportError as e:  # pragma: no cover
            raise RuntimeError(
                "the built-in corpus needs tinysoundfont: pip install --no-deps tinysoundfont"
            ) from e
        self.fs = int(fs)
        self._synth = tinysoundfont.Synth(samplerate=self.fs)
        self._sfid = self._synth.sfload(str(soundfont_path()))

    def preset_name(self, program: int, drums: bool = False) -> str | None:
        return self._synth.sfpreset_name(self._sfid, 128 if drums else 0, program)

    def _gen(self, n: int) -> np.ndarray:
        buf = self._synth.generate(n)
        return np.frombuffer(buf, dtype=np.float32).reshape(-1, 2).mean(axis=1)

    def _reset(self) -> None:
        s, ch = self._synth, self._CHAN
        s.sounds_off()
        s.control_change(ch, 121, 0)  # reset all controllers
        s.pitchbend(ch, 8192)
        s.set_tuning(ch, 0.0)
        self._gen(64)  # flush finished voices

    def render(self, recipe: GMRecipe) -> np.ndarray:
        """Render ``recipe`` from time 0 to ``recipe.end + recipe.tail``; returns ``(N,)``."""
        s, ch, fs = self._synth, self._CHAN, self.fs
        self._reset()
        bank = 128 if recipe.drums else 0
        s.program_select(ch, self._sfid, bank, recipe.program, is_drums=recipe.drums)
        s.pitchbend_range(ch, recipe.bend_range)
        if recipe.tuning:
            s.set_tuning(ch, float(recipe.tuning))
        # events: (sample, order, kind, a, b) - note-offs before note-ons at equal times
        ev: list[tuple[int, int, str, int, int]] = []
        for n in recipe.notes:
            ev.append((int(round(n.start * fs)), 1, "on", n.key, n.velocity))
            ev.append((int(round((n.start + n.length) * fs)), 0, "off", n.key, 0))
        if recipe.bend:
            bt = np.array([b[0] for b in recipe.bend])
            bv = np.array([b[1] for b in recipe.bend])
            ts = np.arange(0.0, bt[-1] + 1e-9, recipe.bend_step)
            semis = np.interp(ts, bt, bv)
            vals = np.clip(np.round(8192 + semis / recipe.bend_range * 8192), 0, 16383).astype(int)
            ev += [(int(round(t * fs)), -1, "bend", int(v), 0) for t, v in zip(ts, vals)]
        ev.sort(key=lambda e: (e[0], e[1]))
        total = int(round((recipe.end + recipe.tail) * fs))
        out = np.zeros(total, dtype=np.float32)
        pos = 0
        for t, _, kind, a, b in ev:
            t = min(t, total)
            if t > pos:
                out[pos:t] = self._gen(t - pos)
                pos = t
            if kind == "on":
                s.noteon(ch, a, b)
            elif kind == "off":
                s.noteoff(ch, a)
            else:
                s.pitchbend(ch, a)
        if total > pos:
            out[pos:] = self._gen(total - pos)
        self._reset()
        return out
