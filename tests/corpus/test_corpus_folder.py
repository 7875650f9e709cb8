"""Tests for folder corpora: sub-folder classes, CSV layouts (generic, ESC-50, FSD50K), safety."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.audio import write_audio
from soundloc.corpus import folder_corpus, get_corpus


def _tone(path, f=440.0, fs=16000, n=8000, channels=1, amp=0.4):
    t = np.arange(n) / fs
    x = np.stack([amp * (k + 1) / channels * np.sin(2 * np.pi * f * t) for k in range(channels)])
    write_audio(path, x.astype(np.float32), fs)
    return x


def test_subfolder_layout(tmp_path):
    _tone(tmp_path / "dog" / "bark1.wav", 300)
    _tone(tmp_path / "dog" / "park" / "bark2.flac", 350, channels=2)
    _tone(tmp_path / "cat" / "meow.wav", 600)
    _tone(tmp_path / "dog bark" / "x.wav", 200)
    _tone(tmp_path / ".hidden" / "h.wav")
    (tmp_path / "empty").mkdir()
    _tone(tmp_path / "loose.wav")  # not in a class folder: ignored
    (tmp_path / "cat" / "notes.txt").write_text("not audio")
    c = folder_corpus(tmp_path)
    assert c.name == tmp_path.name
    assert c.class_names == ("cat", "dog", "dog bark")
    assert [x.clip_id for x in c.clips] == ["cat/meow", "dog/bark1", "dog/park/bark2", "dog_bark/x"]
    assert {x.clip_id: x.label for x in c.clips}["dog_bark/x"] == "dog bark"
    assert c.by_class()["dog"][1].path == tmp_path / "dog" / "park" / "bark2.flac"


def test_load_downmixes_resamples_and_normalises(tmp_path):
    x = _tone(tmp_path / "a" / "st.wav", 500, fs=16000, n=16000, channels=2)
    c = folder_corpus(tmp_path)
    y = c.load(c.clips[0], 8000)
    assert y.shape == (8000,) and y.dtype == np.float32
    assert np.max(np.abs(y)) == pytest.approx(1.0, abs=1e-6)
    ref = x.mean(axis=0)[::2] / np.max(np.abs(x.mean(axis=0)))  # 500 Hz is far below 4 kHz
    yi, ri = y[200:-200], ref[200:-200]
    gain = float(yi @ ri / (ri @ ri))  # resampling ringing at the abrupt ends may set the peak
    assert gain == pytest.approx(1.0, abs=0.01)
    assert np.max(np.abs(yi - gain * ri)) < 1e-3


def test_phase_inverted_stereo_falls_back_to_first_channel(tmp_path):
    t = np.arange(8000) / 16000
    s = 0.5 * np.sin(2 * np.pi * 300 * t)
    write_audio(tmp_path / "a" / "inv.wav", np.stack([s, -s]).astype(np.float32), 16000)
    c = folder_corpus(tmp_path)
    y = c.load(c.clips[0], 16000)
    np.testing.assert_allclose(y, s / np.max(np.abs(s)), atol=1e-5)


def test_duplicate_stems_get_unique_ids(tmp_path):
    _tone(tmp_path / "k" / "a.wav")
    _tone(tmp_path / "k" / "a.flac")
    ids = [c.clip_id for c in folder_corpus(tmp_path).clips]
    assert sorted(ids) == ["k/a", "k/a__2"]


def test_generic_csv_with_and_without_header(tmp_path):
    _tone(tmp_path / "clips" / "one.wav")
    _tone(tmp_path / "clips" / "two.flac")
    (tmp_path / "meta.csv").write_text("filename,label\nclips/one.wav,Bird song\nclips/two.flac,engine\n")
    c = folder_corpus(tmp_path, csv="meta.csv")  # relative: found under root
    assert c.class_names == ("Bird song", "engine")
    assert [x.clip_id for x in c.clips] == ["Bird_song/clips/one", "engine/clips/two"]
    (tmp_path / "plain.csv").write_text("# comment\nclips/one.wav,a\n\nclips/two.flac,b\n")
    c2 = folder_corpus(tmp_path, csv=tmp_path / "plain.csv")
    assert c2.class_names == ("a", "b") and len(c2) == 2


def test_esc50_layout_is_detected(tmp_path):
    _tone(tmp_path / "audio" / "1-100032-A-0.wav")
    _tone(tmp_path / "audio" / "1-110389-A-0.wav")
    _tone(tmp_path / "audio" / "2-1-A-38.wav")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
        "1-110389-A-0.wav,1,0,dog,True,110389,A\n"
        "2-1-A-38.wav,2,38,clock_tick,False,1,A\n"
    )
    c = get_corpus(str(tmp_path))
    assert c.class_names == ("clock_tick", "dog")
    assert c.by_class()["dog"][0].path == tmp_path / "audio" / "1-100032-A-0.wav"
    assert c.info["layout"] == "csv"


def test_fsd50k_layout_first_label_and_missing_extension(tmp_path):
    audio = tmp_path / "FSD50K.dev_audio"
    _tone(audio / "64760.wav")
    _tone(audio / "16399.wav")
    gt = tmp_path / "FSD50K.ground_truth"
    gt.mkdir()
    (gt / "dev.csv").write_text(
        "fname,labels,mids,split\n"
        '64760,"Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music",'
        '"/m/02sgy,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf",train\n'
        '16399,"Electric_guitar,Guitar",  "/m/02sgy,/m/0342h",val\n'
    )
    c = folder_corpus(audio, csv=gt / "dev.csv")
    assert c.class_names == ("Electric_guitar",)
    assert sorted(x.path.name for x in c.clips) == ["16399.wav", "64760.wav"]


def test_fsdnoisy18k_layout(tmp_path):
    _tone(tmp_path / "a.wav")
    (tmp_path / "train.csv").write_text("fname,label,manually_verified,noisy_small\na.wav,Fire,0,1\n")
    c = folder_corpus(tmp_path, csv=tmp_path / "train.csv")
    assert c.class_names == ("Fire",) and c.clips[0].clip_id == "Fire/a"


@pytest.mark.parametrize("bad", ["../outside.wav", "clips/../../outside.wav", "..\\outside.wav", "/etc/passwd",
                                 "C:\\data\\x.wav"])
def test_csv_paths_cannot_escape_the_root(tmp_path, bad):
    root = tmp_path / "root"
    _tone(root / "ok.wav")
    _tone(tmp_path / "outside.wav")  # exists, but must not be reachable
    (root / "m.csv").write_text(f"filename,label\nok.wav,a\n{bad},b\n")
    with pytest.raises(ValueError, match=r"m\.csv:3: path .* escapes the dataset root"):
        folder_corpus(root, csv=root / "m.csv")


def test_csv_errors(tmp_path):
    _tone(tmp_path / "ok.wav")
    (tmp_path / "missing.csv").write_text("filename,label\nok.wav,a\nnot_there.wav,b\n")
    with pytest.raises(ValueError, match="1 listed file.*not_there.wav"):
        folder_corpus(tmp_path, csv=tmp_path / "missing.csv")
    (tmp_path / "nolabel.csv").write_text("filename,fold\nok.wav,1\n")
    with pytest.raises(ValueError, match="no label column"):
        folder_corpus(tmp_path, csv=tmp_path / "nolabel.csv")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        folder_corpus(tmp_path, csv=tmp_path / "empty.csv")
    (tmp_path / "onecol.csv").write_text("ok.wav\n")
    with pytest.raises(ValueError, match="onecol.csv:1"):
        folder_corpus(tmp_path, csv=tmp_path / "onecol.csv")
    (tmp_path / "blank.csv").write_text("filename,label\nok.wav,\n")
    with pytest.raises(ValueError, match="empty label"):
        folder_corpus(tmp_path, csv=tmp_path / "blank.csv")
    with pytest.raises(ValueError, match="CSV not found"):
        folder_corpus(tmp_path, csv=tmp_path / "nope.csv")


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        folder_corpus(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        folder_corpus(tmp_path / "file.txt")
    empty = tmp_path / "empty"
    (empty / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="no audio files"):
        folder_corpus(empty)
    flat = tmp_path / "flat"
    _tone(flat / "a.wav")
    with pytest.raises(ValueError, match="sub-folder per class"):
        folder_corpus(flat)


def test_load_reports_bad_files_by_name(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "broken.wav").write_bytes(b"RIFFnonsense" * 20)
    c = folder_corpus(tmp_path)
    with pytest.raises(ValueError, match="broken.wav: cannot decode"):
        c.load(c.clips[0], 16000)
