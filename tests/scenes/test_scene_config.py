"""SceneConfig: defaults, round trips, and clear errors for bad configs."""

from __future__ import annotations

import pytest
import yaml

from soundloc.scenes.config import SceneConfig, dump_config, load_config
from soundloc.scenes.presets import SCENE_PRESETS, get_preset


def test_defaults_are_the_mcsimclr_distribution():
    c = SceneConfig()
    assert c.room.width == (3.0, 10.0) and c.room.length == (3.0, 10.0)
    assert c.room.height == (2.5, 4.0) and c.room.rt60 == (0.1, 1.0)
    assert c.placement.height == (0.5, 2.0)
    assert c.placement.wall_clearance == 0.5 and c.placement.min_separation == 0.5
    m = get_preset("mcsimclr")
    assert (m.room, m.placement, m.array.name, m.fs, m.events.mode) == (c.room, c.placement, "circular4", 16000, "nonoverlap")


@pytest.mark.parametrize("name", sorted(SCENE_PRESETS))
def test_presets_round_trip_through_dict_and_yaml(name, tmp_path):
    c = get_preset(name)
    assert SceneConfig.from_dict(c.to_dict()) == c
    p = tmp_path / "c.yaml"
    p.write_text(dump_config(c))
    assert load_config(p) == c
    assert yaml.safe_load(p.read_text()) == c.to_dict()


def test_dcase_preset_is_dcase_like():
    c = get_preset("dcase")
    assert (c.array.name, c.fs, c.events.mode, c.events.max_polyphony) == ("tetra", 24000, "overlap", 3)
    assert c.events.moving_probability > 0


def test_partial_yaml_takes_defaults_and_scalars_become_ranges(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("fs: 24000\nroom:\n  rt60: 0.5\nevents: {count: [1, 2]}\n")
    c = load_config(p)
    assert c.fs == 24000 and c.room.rt60 == (0.5, 0.5) and c.events.count == (1, 2)
    assert c.room.width == SceneConfig().room.width


def test_replace_merges_sections():
    c = SceneConfig().replace(num_clips=7, room={"rt60": [0.3, 0.4]})
    assert c.num_clips == 7 and c.room.rt60 == (0.3, 0.4) and c.room.width == (3.0, 10.0)


@pytest.mark.parametrize(
    "data, words",
    [
        ({"room": {"width": [0.8, 1.0]}}, ["room.width", "clearance"]),
        ({"placement": {"wall_clearance": 2.0}}, ["room.width", "clearance"]),
        ({"room": {"rt60": [-0.1, 1.0]}}, ["room.rt60", "> 0"]),
        ({"room": {"rt60": [0.5, 0.2]}}, ["room.rt60", "larger than max"]),
        ({"room": {"widht": [3, 4]}}, ["room.widht", "valid keys"]),
        ({"colour": "red"}, ["'colour'"]),
        ({"events": {"mode": "chaos"}}, ["events.mode", "nonoverlap"]),
        ({"events": {"count": [3, 3], "duration": [0.6, 0.8]}, "duration": 1.0}, ["events.count", "do not fit"]),
        ({"splits": {"train": 0.9, "val": 0.2, "test": 0.1}}, ["splits", "add up to 1"]),
        ({"placement": {"height": [3.5, 4.0]}, "room": {"height": [2.5, 3.0]}}, ["placement.height"]),
        ({"fs": 16000.5}, ["fs"]),
        ({"noise": {"snr_db": "loud"}}, ["noise.snr_db"]),
        ({"room": "big"}, ["room", "mapping"]),
    ],
)
def test_bad_configs_give_clear_errors(data, words):
    with pytest.raises(ValueError) as e:
        SceneConfig.from_dict(data)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="unknown scene preset 'nope'; choose from tiny, mcsimclr, dcase"):
        get_preset("nope")


def test_bad_yaml_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("room: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(p)
    p.write_text("room:\n  rt60: [-1, 1]\n")
    with pytest.raises(ValueError, match=r"bad.yaml': room.rt60"):
        load_config(p)


def test_derived_sizes():
    c = SceneConfig(fs=24000, duration=1.25)
    assert c.num_samples == 30000 and c.num_label_frames == 13


def test_array_checks_go_by_what_the_array_is_not_its_name(tmp_path):
    """An FOA or sphere-mounted array given as a JSON file gets the same checks as its preset name."""
    import json

    from soundloc.ambisonics import FoaFormat
    from soundloc.geometry import BAFFLED_PRESETS, MicArray

    foa = tmp_path / "my_foa.json"
    foa.write_text(json.dumps(FoaFormat().to_dict()))
    sphere = tmp_path / "em32_tetra.json"
    MicArray.preset(next(iter(BAFFLED_PRESETS))).to_json(sphere)
    base = get_preset("tiny")
    for path in (foa, sphere):
        with pytest.raises(ValueError, match="needs rir_backend 'fast'"):
            base.replace(array={"name": str(path)}, rir_backend="ism")
    cfg = base.replace(array={"name": str(foa), "foa_band_limit": 9000.0}, rir_backend="fast")
    assert cfg.array.foa_band_limit == 9000.0
    with pytest.raises(ValueError, match="foa_band_limit"):
        base.replace(array={"name": str(sphere), "foa_band_limit": 9000.0}, rir_backend="fast")
