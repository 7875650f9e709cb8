"""Speak one utterance with libespeak-ng in a fresh process (stdlib only; run by file path).

eSpeak NG keeps hidden static state between utterances (e.g. the pitch-flutter index in
wavegen.c), so the same text comes out slightly different depending on what was spoken
before in the process. Running each utterance in a new process makes synthesis a pure
function of its parameters. Protocol: a JSON request on stdin
``{"lib", "data", "voice", "text", "rate", "pitch", "range", "seed"}``; on success stdout gets the
sample rate as 4 bytes little-endian followed by int16 little-endian samples; on failure a
one-line message on stderr and exit code 2.
"""

import ctypes
import json
import sys


def main() -> int:
    req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    lib = ctypes.CDLL(req["lib"])
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]
    callback_t = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )
    # AUDIO_OUTPUT_SYNCHRONOUS = 2; espeakINITIALIZE_DONT_EXIT = 0x8000
    fs = lib.espeak_Initialize(2, 0, req["data"].encode(), 0x8000)
    if fs <= 0:
        sys.stderr.write(f"espeak_Initialize failed ({fs})\n")
        return 2
    out = bytearray()

    def collect(wav, n, _events):
        if n > 0 and wav:
            out.extend(ctypes.string_at(wav, 2 * n))
        return 0

    cb = callback_t(collect)
    lib.espeak_SetSynthCallback(cb)
    if lib.espeak_SetVoiceByName(req["voice"].encode()) != 0:
        sys.stderr.write(f"eSpeak voice {req['voice']!r} not found\n")
        return 2
    # espeakRATE=1, espeakVOLUME=2, espeakPITCH=3, espeakRANGE=4
    for param, value in ((1, req["rate"]), (2, 100), (3, req["pitch"]), (4, req["range"])):
        lib.espeak_SetParameter(param, int(value), 0)
    # breath noise uses espeak_rand(), whose initial seed differs between runs: fix it
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(int(req.get("seed", 12345)))
    text = req["text"].encode("utf-8") + b"\0"
    # POS_CHARACTER = 1, espeakCHARS_UTF8 = 1
    err = lib.espeak_Synth(text, len(text), 0, 1, 0, 1, None, None)
    if err != 0:
        sys.stderr.write(f"espeak_Synth failed with code {err}\n")
        return 2
    sys.stdout.buffer.write(int(fs).to_bytes(4, "little") + bytes(out))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
