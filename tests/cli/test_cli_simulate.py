"""`soundloc simulate` and `soundloc inspect` through `main([...])`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenes"))
from scene_helpers import make_corpus  # noqa: E402

from soundloc.cli import main  # noqa: E402
from soundloc.scenes.presets import get_preset  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("cli_corpus"))


def test_tiny_preset_with_builtin_corpus_then_inspect(tmp_path, capsys):
    """The acceptance path: `soundloc simulate OUT --preset tiny` then `soundloc inspect OUT`."""
    out = tmp_path / "tiny"
    t0 = time.perf_counter()
    assert main(["simulate", str(out), "--preset", "tiny", "--no-progress"]) == 0
    elapsed = time.perf_counter() - t0
    text = capsys.readouterr().out
    assert "8 clips (train 4, val 2, test 2)" in text and "on disk" in text
    assert elapsed < 60, f"tiny preset took {elapsed:.1f} s"
    header = json.loads((out / "dataset.json").read_text())
    assert header["corpus"]["spec"] == "builtin" and len(header["class_names"]) >= 2
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 8

    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("train 4", "val 2", "test 2", "azimuth", "RT60", "SNR", "polyphony", "on disk"):
        assert word in text, word
    png = out / "inspect.png"
    img = mpimg.imread(png)
    assert img.shape[0] >= 600 and img.shape[1] >= 1000  # six readable panels

    # rerun: everything kept, nothing simulated
    assert main(["simulate", str(out), "--preset", "tiny", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "simulated 0, kept 8" in text


def test_simulate_with_folder_corpus_workers_and_overrides(corpus, tmp_path, capsys):
    out = tmp_path / "ds"
    rc = main(["simulate", str(out), "--preset", "tiny", "--clips", "3", "--workers", "2", "--seed", "4",
               "--corpus", str(corpus), "--backend", "ism", "--no-progress"])
    assert rc == 0
    header = json.loads((out / "dataset.json").read_text())
    assert header["seed"] == 4 and header["num_clips"] == 3 and header["config"]["rir_backend"] == "ism"
    assert header["config"]["corpus"] == str(corpus)
    capsys.readouterr()
    rc = main(["simulate", str(out), "--preset", "tiny", "--clips", "3", "--seed", "4", "--corpus", str(corpus),
               "--backend", "ism", "--no-progress"])
    assert rc == 0 and "simulated 0, kept 3" in capsys.readouterr().out


def test_print_config_round_trips(tmp_path, capsys):
    assert main(["simulate", "--preset", "dcase", "--clips", "5", "--print-config"]) == 0
    text = capsys.readouterr().out
    cfg = yaml.safe_load(text)
    assert cfg["num_clips"] == 5 and cfg["array"]["name"] == "tetra"
    p = tmp_path / "c.yaml"
    p.write_text(text)
    from soundloc.scenes.config import load_config

    assert load_config(p) == get_preset("dcase").replace(num_clips=5)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--preset", "huge"], ["unknown scene preset 'huge'", "tiny, mcsimclr, dcase"]),
        ([], ["--config", "--preset"]),
        (["--preset", "tiny", "--backend", "raytrace"], ["unknown RIR backend 'raytrace'"]),
        (["--preset", "tiny", "--clips", "0"], ["--clips"]),
        (["--preset", "tiny", "--workers", "0"], ["--workers"]),
    ],
)
def test_simulate_errors_are_one_line(argv, words, tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "o")] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("soundloc simulate: error:") and err.count("\n") == 1
    for w in words:
        assert w in err, err


def test_bad_config_files_and_corpus(corpus, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("room:\n  rt60: [-0.2, 0.5]\n")
    assert main(["simulate", str(tmp_path / "o"), "--config", str(bad)]) == 2
    assert "room.rt60" in capsys.readouterr().err
    bad.write_text("room:\n  width: [0.6, 0.9]\n")
    assert main(["simulate", str(tmp_path / "o"), "--config", str(bad)]) == 2
    assert "clearance" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "o"), "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["simulate", str(tmp_path / "o2"), "--preset", "tiny", "--corpus", str(empty), "--no-progress"]) == 2
    assert "empty" in capsys.readouterr().err
    # a finished dataset refuses a different config
    out = tmp_path / "ds"
    assert main(["simulate", str(out), "--preset", "tiny", "--clips", "1", "--corpus", str(corpus), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(out), "--preset", "tiny", "--clips", "2", "--corpus", str(corpus), "--no-progress"]) == 2
    assert "different config (config.num_clips 1 there, 2 here); use a new folder or --overwrite" in capsys.readouterr().err
    # another seed is refused naming the seed (regression: the message blamed the config)
    assert main(["simulate", str(out), "--preset", "tiny", "--clips", "1", "--corpus", str(corpus), "--seed", "4",
                 "--no-progress"]) == 2
    assert "(seed 0 there, 4 here)" in capsys.readouterr().err
    assert main(["simulate", str(out), "--preset", "tiny", "--clips", "2", "--corpus", str(corpus), "--overwrite",
                 "--no-progress"]) == 0


def test_inspect_errors(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path)]) == 2
    assert "not a dataset folder" in capsys.readouterr().err


def test_ctrl_c_with_workers_prints_one_line(corpus, tmp_path):
    """Regression: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during a
    `--workers 2` run used to print a KeyboardInterrupt traceback from every pool worker; now the
    workers leave the interrupt to the parent, which stops the pool and prints one line."""
    import glob
    import os
    import signal
    import subprocess

    out = tmp_path / "ds"  # 20000 clips: the run cannot finish before the interrupt (2000 once did, exit 0, on a loaded machine)
    cmd = [sys.executable, "-c", "import sys; from soundloc.cli import main; sys.exit(main(sys.argv[1:]))",
           "simulate", str(out), "--preset", "tiny", "--clips", "20000", "--workers", "2", "--corpus", str(corpus),
           "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(glob.glob(str(out / "metadata" / "*" / "*.json"))) < 2:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only if the interrupt was not honoured
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip() == "soundloc: interrupted"
