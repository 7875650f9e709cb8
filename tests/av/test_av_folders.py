"""Folder AV datasets: Flickr-SoundNet soft maps, VGG-SS box scaling, VGGSound lists, auto-detection, path safety."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from folder_fixtures import FLICKR_BOXES, flickr_xml, write_clip

from soundloc.av.dataset import AVDataset, collate_av, holdout_split
from soundloc.av.folders import (
    FolderOptions,
    detect_av_format,
    flickr_dataset,
    open_av_dataset,
    read_id_list,
    vggsound_dataset,
    vggss_dataset,
)
from soundloc.av.train import load_split
from soundloc.metrics.av_eval import gt_maps

OPTS = FolderOptions(image_size=32, duration=0.25)


def _consensus(boxes_256: list[list[list[int]]], size: int) -> np.ndarray:
    """Independent reference of the official Flickr map: count the boxes of all annotators covering each pixel
    (coordinates int(size * v / 256)), then min(count / 2, 1) -- the mean of two annotators' masks, but 0.5 (not 1)
    under a lone annotator's box and 1 (not 2/3) where two of three agree."""
    count = np.zeros((size, size))
    for boxes in boxes_256:
        for b in boxes:
            x0, y0, x1, y1 = (int(size * v / 256) for v in b)
            count[y0:y1, x0:x1] += 1
    return np.minimum(count / 2, 1)


def test_flickr_soft_maps_are_the_official_consensus(flickr_root: Path) -> None:
    ds = flickr_dataset(flickr_root, options=OPTS)
    assert isinstance(ds, AVDataset) and ds.box_format == "flickr" and ds.annotated
    assert ds.ids == ["101", "102", "103"] and ds.class_names == ("dog barking", "male speech, man speaking")
    r = ds.sample(0)
    assert r.boxes.tolist() == [[0, 0, 16, 16], [8, 8, 24, 24]]  # int(32 * v / 256)
    assert r.frame.shape == (3, 32, 32) and r.frame.dtype == np.uint8 and r.kind == "sounding" and r.label == "dog barking"
    g = ds.gt_map(r)
    assert (g[4, 4], g[10, 10], g[20, 20], g[28, 28], g[4, 20]) == (0.5, 1.0, 0.5, 0.0, 0.0)
    two = np.zeros((2, 32, 32))  # clip 101 has two annotators: the map is the mean of their masks
    two[0, :16, :16] = two[1, 8:24, 8:24] = 1
    np.testing.assert_array_equal(g, two.mean(axis=0))
    for i, cid in enumerate(ds.ids):
        np.testing.assert_array_equal(ds.gt_map(ds.sample(i)), _consensus(FLICKR_BOXES[cid], 32))
    assert set(np.unique(ds.gt_map(ds.sample(2)))) == {0.0, 0.5}  # one annotator: 0.5 under the box
    g2 = ds.gt_map(ds.sample(1))  # one annotator's two boxes; the other's box inside the first
    assert (g2[2, 2], g2[10, 2], g2[10, 28], g2[10, 16]) == (1.0, 0.5, 0.5, 0.0)
    # the evaluator's maps of the split held in memory are the same soft maps
    data = load_split(ds)
    assert data.box_format == "flickr" and data.ids == ["101", "102", "103"]
    np.testing.assert_array_equal(gt_maps(data, [0, 1, 2]), np.stack([_consensus(FLICKR_BOXES[c], 32) for c in ds.ids]))


def test_flickr_test_list_selects_and_pascal_voc_boxes(flickr_root: Path) -> None:
    lst = flickr_root / "two.txt"
    lst.write_text("# the test list\n103\n\n101\n")
    ds = flickr_dataset(flickr_root, test_list=lst, options=OPTS)
    assert ds.ids == ["101", "103"]  # sorted, as the official loaders
    (flickr_root / "Annotations" / "103.xml").write_text(flickr_xml([[[0, 128, 256, 256]]], tag="bndbox"))
    assert ds.pixel_boxes(1).tolist() == [[16, 16, 32, 32]]  # read at construction: the old box
    assert flickr_dataset(flickr_root, test_list=lst, options=OPTS).pixel_boxes(1).tolist() == [[0, 16, 32, 32]]
    os.remove(flickr_root / "flickr_test.csv")
    assert flickr_dataset(flickr_root, options=OPTS).ids == ["101", "102", "103"]  # no list: every annotation


def test_vggss_boxes_scale_to_the_frame(vggss_root: Path) -> None:
    ds = vggss_dataset(vggss_root, options=OPTS)
    assert ds.box_format == "vggss" and ds.ids == ["aaa_000010", "bbb_000020", "ccc_000030"]
    assert ds.pixel_boxes(0).tolist() == [[8, 16, 24, 32]]
    assert ds.pixel_boxes(2).tolist() == [[3, 3, 6, 28]]  # int(0.1 * 32) = 3, int(0.9 * 32) = 28
    g = ds.gt_map(ds.sample(1))
    assert set(np.unique(g)) == {0.0, 1.0} and g.sum() == 16 * 16 + 24 * 24 - 8 * 8  # binary union
    assert ds.sample(0).labels.tolist() == [ds.class_names.index("dog barking")]
    wide = vggss_dataset(vggss_root, options=FolderOptions(image_size=100, duration=0.25))
    assert wide.pixel_boxes(0).tolist() == [[25, 50, 75, 100]]


def test_vggss_subsets_by_list_and_classes(vggss_root: Path, tmp_path: Path) -> None:
    (tmp_path / "heard.txt").write_text("dog barking\n")
    assert vggss_dataset(vggss_root, classes=tmp_path / "heard.txt", options=OPTS).ids == ["aaa_000010", "ccc_000030"]
    (tmp_path / "ids.csv").write_text("bbb_000020,cat meowing\n")
    assert vggss_dataset(vggss_root, id_list=tmp_path / "ids.csv", options=OPTS).ids == ["bbb_000020"]
    (tmp_path / "unknown.csv").write_text("zzz\n")
    with pytest.raises(ValueError, match="not in vggss.json.*zzz"):
        vggss_dataset(vggss_root, id_list=tmp_path / "unknown.csv", options=OPTS)


def test_frames_and_clips(vggss_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "v"
    img, audio = write_clip(root, "a", 3, size=40, seconds=0.5)
    ds = vggsound_dataset(root, options=FolderOptions(image_size=40, duration=0.25))
    r = ds.sample(0)
    np.testing.assert_array_equal(r.frame, img.transpose(2, 0, 1))  # PNG at its own size: exact
    np.testing.assert_array_equal(r.audio, audio[2000:6000])  # the middle 0.25 s of 0.5 s
    long = vggsound_dataset(root, options=FolderOptions(image_size=40, duration=1.2)).sample(0).audio
    np.testing.assert_array_equal(long, np.tile(audio, 3)[:19200])  # short files repeat
    assert r.kind == "unlabelled" and len(r.boxes) == 0 and not ds.annotated
    # stereo at 8 kHz: averaged, resampled to 16 kHz
    sf.write(root / "audio" / "a.wav", np.stack([audio[:4000], audio[:4000]], axis=1), 8000, subtype="FLOAT")
    assert ds.sample(0).audio.shape == (4000,)


def test_interface_items_and_collate(flickr_root: Path, vggsound_root: Callable[[int], Path]) -> None:
    ds = flickr_dataset(flickr_root, options=OPTS)
    batch = collate_av([ds[0], ds[1]])
    assert batch["frame"].shape == (2, 3, 32, 32) and batch["audio"].shape == (2, 4000)
    assert batch["gt_map"][0, 10, 10] == 1.0 and batch["gt_map"][0, 4, 4] == 0.5
    assert torch.equal(batch["mask"], batch["gt_map"] > 0) and batch["annotated"].tolist() == [True, True]
    assert batch["id"] == ["101", "102"] and [len(b) for b in batch["boxes"]] == [2, 3]
    loader = torch.utils.data.DataLoader(vggsound_dataset(vggsound_root(4), options=OPTS), batch_size=4, collate_fn=collate_av)
    b = next(iter(loader))
    assert b["annotated"].tolist() == [False] * 4 and b["kind"] == ["unlabelled"] * 4
    train, val = holdout_split(vggsound_dataset(vggsound_root(4), options=OPTS), 1, seed=0)
    assert len(train) == 3 and len(val) == 1 and set(train.indices) | set(val.indices) == {0, 1, 2, 3}
    assert not load_split(val).annotated


def test_vggsound_lists(vggsound_root: Callable[[int], Path], tmp_path: Path) -> None:
    root = vggsound_root(3)
    assert vggsound_dataset(root, options=OPTS).ids == ["yt00_000000", "yt01_000001", "yt02_000002"]
    (tmp_path / "vggsound.csv").write_text("yt01,1,dog barking,train\nyt02,2,cat,test\nyt09,9,cat,train\n")
    assert read_id_list(tmp_path / "vggsound.csv") == [("yt01_000001", "dog barking"), ("yt02_000002", "cat"),
                                                      ("yt09_000009", "cat")]
    ds = vggsound_dataset(root, id_list=tmp_path / "vggsound.csv", split="train", options=OPTS)
    assert ds.ids == ["yt01_000001"] and ds.skipped == ["yt09_000009"]  # training lists skip missing clips
    with pytest.raises(ValueError, match="1 of 2 listed clips have no file in frames/.*yt09_000009"):
        vggsound_dataset(root, id_list=tmp_path / "vggsound.csv", split="train",
                         options=FolderOptions(image_size=32, duration=0.25, missing="error"))


def test_auto_detect(flickr_root: Path, vggss_root: Path, vggsound_root: Callable[[int], Path]) -> None:
    root = vggsound_root(2)
    assert detect_av_format(flickr_root) == ("flickr", flickr_root, None)
    assert detect_av_format(vggss_root) == ("vggss", vggss_root, None)
    assert detect_av_format(root) == ("vggsound", root, None)
    assert detect_av_format(vggss_root / "vggss.json")[:2] == ("vggss", vggss_root)
    (flickr_root / "metadata").mkdir()
    (flickr_root / "metadata" / "t.csv").write_text("102\n")
    assert detect_av_format(flickr_root / "metadata" / "t.csv") == ("flickr", flickr_root, flickr_root / "metadata" / "t.csv")
    assert open_av_dataset(flickr_root / "metadata" / "t.csv", options=OPTS).ids == ["102"]
    assert open_av_dataset(vggss_root, options=OPTS).format == "vggss"
    assert open_av_dataset(flickr_root, format="vggsound", options=OPTS).annotated is False  # explicit format wins
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_av_format(flickr_root / "Annotations")


@pytest.mark.parametrize("bad", ["../101", "../../etc/passwd", "/etc/passwd", "a/b", "..", "C:x", "a\\b"])
def test_ids_cannot_leave_the_root(vggss_root: Path, bad: str) -> None:
    doc = [{"file": bad, "class": "x", "bbox": [[0, 0, 1, 1]]}]
    (vggss_root / "vggss.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="not a plain file name"):
        vggss_dataset(vggss_root, options=OPTS)
    (vggss_root / "list.txt").write_text(bad + "\n")
    with pytest.raises(ValueError, match="list.txt:1: clip id .* not a plain file name"):
        read_id_list(vggss_root / "list.txt")


def test_symlink_outside_the_root_is_refused(vggss_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    (vggss_root / "frames" / "aaa_000010.png").rename(outside)
    (vggss_root / "frames" / "aaa_000010.png").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the dataset root"):
        vggss_dataset(vggss_root, options=OPTS)


@pytest.mark.parametrize(("doc", "needle"), [
    ("{not json", "not valid JSON"),
    ('{"file": "a"}', "must hold a list"),
    ('[{"file": "aaa_000010"}]', "must be an object with \"file\" and \"bbox\""),
    ('[{"file": "aaa_000010", "class": "x", "bbox": [[0.5, 0.1, 0.2, 0.9]]}]', "x2 <= x1"),
    ('[{"file": "aaa_000010", "class": "x", "bbox": [[10, 20, 100, 200]]}]', "not normalised"),
    ('[{"file": "aaa_000010", "class": "x", "bbox": [[0, 0, 1]]}]', "four finite numbers"),
    ('[{"file": "aaa_000010", "class": "x", "bbox": []}]', "non-empty list"),
    ('[{"file": "aaa_000010", "bbox": [[0, 0, 1, 1]]}, {"file": "aaa_000010", "bbox": [[0, 0, 1, 1]]}]', "appears twice"),
])
def test_bad_vggss_json(vggss_root: Path, doc: str, needle: str) -> None:
    (vggss_root / "vggss.json").write_text(doc)
    with pytest.raises(ValueError, match=needle) as e:
        vggss_dataset(vggss_root, options=OPTS)
    assert "\n" not in str(e.value)


def test_bad_flickr_boxes_and_missing_files(flickr_root: Path) -> None:
    ann = flickr_root / "Annotations"
    (ann / "101.xml").write_text(flickr_xml([[[0, 0, 300, 100]]]))
    with pytest.raises(ValueError, match="101.xml: box coordinates must be in \\[0, 256\\]"):
        flickr_dataset(flickr_root, options=OPTS)
    (ann / "101.xml").write_text(flickr_xml([[[50, 0, 40, 100]]]))
    with pytest.raises(ValueError, match="xmax <= xmin"):
        flickr_dataset(flickr_root, options=OPTS)
    (ann / "101.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match="cannot read Flickr annotation"):
        flickr_dataset(flickr_root, options=OPTS)
    os.remove(ann / "101.xml")
    with pytest.raises(ValueError, match="clip '101' has no annotation file"):
        flickr_dataset(flickr_root, options=OPTS)
    (ann / "101.xml").write_text(flickr_xml(FLICKR_BOXES["101"]))
    os.remove(flickr_root / "audio" / "102.wav")
    with pytest.raises(ValueError, match="1 of 3 listed clips have no file in audio/ \\(first: '102'\\)"):
        flickr_dataset(flickr_root, options=OPTS)
    ds = flickr_dataset(flickr_root, options=FolderOptions(image_size=32, duration=0.25, missing="skip"))
    assert ds.ids == ["101", "103"] and ds.skipped == ["102"]


def test_unreadable_audio_and_image(vggss_root: Path) -> None:
    ds = vggss_dataset(vggss_root, options=OPTS)
    (vggss_root / "audio" / "aaa_000010.wav").write_text("not audio")
    with pytest.raises(ValueError, match="aaa_000010.wav") as e:
        ds.sample(0)
    assert "\n" not in str(e.value)
    (vggss_root / "frames" / "bbb_000020.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="frame .*bbb_000020.png"):
        ds.sample(1)
    with pytest.raises(ValueError, match="dataset folder .* does not exist"):
        vggss_dataset(vggss_root / "nope")
    with pytest.raises(ValueError, match="unknown AV dataset format 'coco'"):
        open_av_dataset(vggss_root, format="coco")
