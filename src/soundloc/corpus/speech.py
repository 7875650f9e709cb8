"""Speech synthesis with the eSpeak NG library shipped by the ``espeakng-loader`` wheel.

The shared library and its data folder come from the wheel (no system package); its C API
is called through ctypes in synchronous mode (``AUDIO_OUTPUT_SYNCHRONOUS`` with a synth
callback collecting 16-bit samples at 22050 Hz) by ``_espeak_worker.py``, one fresh process
per utterance so that the output is a pure function of the recipe (see :func:`synthesize`).
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["NUMBER_LANGUAGES", "WORDS", "SpeechRecipe", "espeak_version", "synthesize"]

# Small built-in vocabularies (everyday words) for sentence-like random texts.
WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "the morning train was late again", "please open the window", "where did you put",
        "my keys", "seven", "green", "apples", "we should call", "tomorrow", "the old bridge",
        "is closed", "after lunch", "she said", "nothing", "about the weather", "quickly",
        "a small red boat", "under the table", "thank you very much", "it sounds strange",
        "listen", "the music", "downstairs", "twelve people", "are waiting", "outside",
    ),
    "de": (
        "guten Morgen", "der Zug", "kommt heute", "später", "bitte", "das Fenster",
        "schließen", "wir gehen", "in den Park", "morgen früh", "ein kleines Haus",
        "am Fluss", "vielen Dank", "ich weiß nicht", "wo ist", "die Katze", "sieben Äpfel",
    ),
    "fr": (
        "bonjour", "le train", "arrive", "en retard", "ouvre la fenêtre", "s'il te plaît",
        "nous allons", "au marché", "demain matin", "une petite maison", "près de la mer",
        "merci beaucoup", "je ne sais pas", "où est", "le chat", "trois pommes vertes",
    ),
    "es": (
        "buenos días", "el tren", "llega tarde", "abre la ventana", "por favor",
        "vamos", "al mercado", "mañana", "una casa pequeña", "junto al río",
        "muchas gracias", "no lo sé", "dónde está", "el perro", "cinco naranjas",
    ),
    "it": (
        "buongiorno", "il treno", "è in ritardo", "apri la finestra", "per favore",
        "andiamo", "al mercato", "domani mattina", "una piccola casa", "vicino al mare",
        "grazie mille", "non lo so", "dov'è", "il gatto", "quattro limoni",
    ),
}
"""Phrase fragments per language; a random sentence strings a few together."""

NUMBER_LANGUAGES: tuple[str, ...] = ("nl", "pt", "sv", "pl", "fi", "cs", "ru", "tr", "hu", "ro")
"""Languages spoken from random numbers (eSpeak reads digits in the voice's language)."""

_WORKER = Path(__file__).with_name("_espeak_worker.py")
_lock = threading.Lock()
_state: dict = {}


@dataclass(frozen=True)
class SpeechRecipe:
    """One utterance: ``voice`` is ``"<language>+<variant>"`` (e.g. ``"en+f3"``);
    ``rate`` in words per minute (80-450), ``pitch`` and ``range`` 0-100; ``seed`` seeds
    eSpeak's noise generator (breathy voices)."""

    text: str
    voice: str
    rate: int = 175
    pitch: int = 50
    range: int = 50
    seed: int = 0

    def describe(self) -> dict:
        return {
            "source": "espeak",
            "voice": self.voice,
            "rate": self.rate,
            "pitch": self.pitch,
            "range": self.range,
            "seed": self.seed,
            "text": self.text,
        }


def _paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as e:  # pragma: no cover - dependency
        raise RuntimeError("speech needs espeakng-loader (pip install espeakng-loader)") from e
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def espeak_version() -> str:
    """Version string of the eSpeak NG library shipped by espeakng-loader."""
    if "version" not in _state:
        with _lock:
            lib = ctypes.CDLL(_paths()[0])
            lib.espeak_Info.argtypes = [ctypes.c_void_p]
            lib.espeak_Info.restype = ctypes.c_char_p
            _state["version"] = (lib.espeak_Info(None) or b"?").decode(errors="replace")
    return _state["version"]


def synthesize(recipe: SpeechRecipe, *, timeout: float = 60.0) -> tuple[np.ndarray, int]:
    """Speak ``recipe``; returns ``(x (N,) float32 in [-1, 1], fs)`` (fs = 22050 Hz).

    Each call runs ``_espeak_worker.py`` in a fresh Python process (about 70 ms), because
    eSpeak NG carries hidden state from one utterance to the next inside a process; this
    way the output depends only on ``recipe``. RuntimeError when the voice is unknown or
    synthesis fails.
    """
    lib, data = _paths()
    req = {"lib": lib, "data": data, "voice": recipe.voice, "text": recipe.text,
           "rate": int(recipe.rate), "pitch": int(recipe.pitch), "range": int(recipe.range),
           "seed": int(recipe.seed)}
    try:
        r = subprocess.run(
            [sys.executable, "-I", "-S", str(_WORKER)],
            input=json.dumps(req).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"eSpeak timed out after {timeout:g} s for {recipe!r}") from e
    if r.returncode != 0 or len(r.stdout) < 4:
        msg = r.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"eSpeak failed for voice {recipe.voice!r}: "
                           f"{msg[-1] if msg else 'exit code ' + str(r.returncode)}")
    fs = int.from_bytes(r.stdout[:4], "little")
    x = np.frombuffer(r.stdout[4:], dtype="<i2").astype(np.float32) / 32768.0
    return x, fs
