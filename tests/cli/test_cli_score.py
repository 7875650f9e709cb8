"""`soundloc score` through `main([...])`: JSON equals the official outputs, table, per-file, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from soundloc.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "reference"
D23, D24 = DATA / "dcase2023_seld", DATA / "dcase2024_seld_dist"
EXP23 = json.loads((D23 / "expected.json").read_text())
EXP24 = json.loads((D24 / "expected.json").read_text())


def _folders(tmp: Path, src: Path, exp: dict, pred_suffix: str = "pred") -> tuple[Path, Path, list[str]]:
    cases = sorted(k for k in exp if k.startswith("case"))
    ref, pred = tmp / "ref", tmp / "pred"
    ref.mkdir()
    pred.mkdir()
    for c in cases:
        shutil.copy(src / "cases" / f"{c}_ref.csv", ref / f"{c}.csv")
        shutil.copy(src / "cases" / f"{c}_{pred_suffix}.csv", pred / f"{c}.csv")
    return ref, pred, cases


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _approx(got: dict, want: dict, keys) -> None:
    for k in keys:
        if want[k] is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(want[k], abs=1e-5), k


def test_dcase2023_folder_json_per_file(tmp_path, capsys):
    ref, pred, cases = _folders(tmp_path, D23, EXP23, "pred_cart")  # the baseline's Cartesian output
    out = _json(capsys, ["score", str(ref), str(pred), "--metric", "dcase2023", "--format", "json", "--per-file"])
    keys = ("ER", "F", "LE", "LR", "SELD_score")
    assert set(out) == {*keys, "classwise", "files"}
    _approx(out, EXP23["_aggregate_all_cases"]["macro"], keys)
    assert set(out["classwise"]) == set(keys) and all(len(v) == 13 for v in out["classwise"].values())
    assert out["classwise"]["F"] == pytest.approx(EXP23["_aggregate_all_cases"]["macro"]["classwise"]["F"], abs=1e-9)
    assert sorted(out["files"]) == [f"{c}.csv" for c in cases]
    for c in cases:
        _approx(out["files"][f"{c}.csv"], EXP23[c]["macro"], keys)
    micro = _json(capsys, ["score", str(ref), str(pred), "--average", "micro", "--format", "json"])
    _approx(micro, EXP23["_aggregate_all_cases"]["micro"], keys)
    assert "files" not in micro


def test_dcase2024_json_nulls_and_table(tmp_path, capsys):
    ref, pred, _ = _folders(tmp_path, D24, EXP24)
    keys = ("ER", "F", "DOAE", "DistE", "RDE", "LR", "SELD_score")
    for avg in ("macro", "micro"):
        out = _json(capsys, ["score", str(ref), str(pred), "--metric", "dcase2024", "--average", avg, "--format", "json"])
        assert set(out) == {*keys, "classwise"}
        _approx(out, EXP24["_aggregate_all_cases"][avg], keys)
    one = _json(capsys, ["score", str(ref / "case02.csv"), str(pred / "case02.csv"), "--metric", "dcase2024",
                         "--format", "json"])  # empty prediction: no matched pair -> null
    _approx(one, EXP24["case02"]["macro"], keys)
    assert one["DOAE"] is None and one["classwise"]["DOAE"] == [None] * 13

    assert main(["score", str(ref), str(pred), "--metric", "dcase2024", "--per-file"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("dcase2024 (macro), 17 files scored as one set")
    assert "SELD_score" in text and "class-wise:" in text and "case17.csv" in text
    seld = EXP24["_aggregate_all_cases"]["macro"]["SELD_score"]
    assert f"{seld:.4f}" in text.splitlines()[2]
    # distances read in the wrong unit change the score
    wrong = _json(capsys, ["score", str(ref), str(pred), "--metric", "dcase2024", "--ref-distance-unit", "m",
                           "--format", "json"])
    assert wrong["RDE"] > 0.9


def _one_line_error(capsys, argv: list[str], *needles: str) -> None:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage errors
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


def test_errors_exit_2_with_one_line(tmp_path, capsys):
    ref, pred, _ = _folders(tmp_path, D23, EXP23)
    (pred / "extra.csv").write_text("0,1,0,10,20\n")
    _one_line_error(capsys, ["score", str(ref), str(pred)], "without a partner", "extra.csv")
    (pred / "extra.csv").unlink()
    (pred / "case05.csv").write_text("0,1,0,10,20\n1,1,0,10\n")
    _one_line_error(capsys, ["score", str(ref), str(pred)], "case05.csv", "line 2 has 4 columns")
    (pred / "case05.csv").write_text("0,1,0,10,20\n1,13,0,10,20\n")
    _one_line_error(capsys, ["score", str(ref), str(pred)], "case05.csv: line 2: class 13 is out of range")
    assert main(["score", str(ref), str(pred), "--num-classes", "14", "--format", "json"]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["score", str(ref), str(pred / "case01.csv")], "must both be CSV files or both folders")
    _one_line_error(capsys, ["score", str(ref), str(tmp_path / "nope")], "does not exist")
    if Path("/dev/null").exists():  # neither a file nor a folder, on either side
        _one_line_error(capsys, ["score", str(ref / "case01.csv"), "/dev/null"],
                        "prediction path '/dev/null' is neither a CSV file nor a folder")
        _one_line_error(capsys, ["score", "/dev/null", str(pred)], "reference path '/dev/null' is neither a CSV file nor a folder")
    _one_line_error(capsys, ["score", str(ref), str(pred), "--metric", "dcase2022"], "invalid choice")
    # a 5-column file cannot be scored with distances
    _one_line_error(capsys, ["score", str(ref / "case01.csv"), str(pred / "case01.csv"), "--metric", "dcase2024"],
                    "case01.csv", "no distance column")
