"""Indexing real files: the Kaggle layout, every kind of bad input, and the prepare stage's messages."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO, compose, frame, good_video, run, write_rgb_png

from harness.data.index import index_frames, scan_layout
from harness.data.layout import parse_frame_name
from harness.errors import HarnessError

CLASSES = tuple(compose()["data"]["classes"])


@pytest.fixture
def messy_root(tmp_path):
    """A Kaggle-layout folder with one example of every problem the issue lists."""
    root = tmp_path / "ucf"
    good_video(root, "Train", "Abuse", "Abuse001_x264", 40)
    good_video(root, "Train", "NormalVideos", "Normal_Videos001_x264", 40, start_seed=100)
    good_video(root, "Test", "Abuse", "Abuse002_x264", 3, start_seed=200)
    cls = root / "Train" / "Abuse"
    ok, png = cv2.imencode(".png", frame(7))
    png = png.tobytes()
    (cls / "Abuse003_x264_0.png").write_bytes(b"")  # empty
    (cls / "Abuse003_x264_10.png").write_bytes(png[: len(png) // 2])  # truncated
    corrupt = bytearray(png)
    corrupt[60:90] = b"\x00" * 30
    (cls / "Abuse003_x264_20.png").write_bytes(bytes(corrupt))  # CRC-corrupt
    (cls / "Abuse003_x264_30.png").write_bytes(cv2.imencode(".jpg", frame(8))[1].tobytes())  # JPEG named .png
    (cls / "notes.txt").write_text("not a frame")
    (cls / "Thumbs.db").write_bytes(b"\x00\x01")
    write_rgb_png(cls / "cover.png", frame(9))  # no frame number
    write_rgb_png(cls / "Abuse004_x264_abc.png", frame(10))  # frame number not a number
    # convertible frames
    cv2.imwrite(str(cls / "Abuse005_x264_0.png"), frame(11)[..., 0])  # grey
    cv2.imwrite(str(cls / "Abuse005_x264_10.png"), np.dstack([frame(12), np.full((64, 64), 255, np.uint8)]))  # RGBA
    cv2.imwrite(str(cls / "Abuse005_x264_20.png"), frame(13).astype(np.uint16) * 257)  # 16-bit
    write_rgb_png(cls / "Abuse005_x264_30.png", frame(14, size=(48, 80)))  # odd size
    write_rgb_png(cls / "Abuse006_x264" / "Abuse006_x264_0.png", frame(15))  # nested folder
    write_rgb_png(root / "Train" / "Aliens" / "Aliens001_x264_0.png", frame(16))  # unknown class folder
    write_rgb_png(root / "Train" / "stray_0.png", frame(17))  # outside any class folder
    return root


def real_frames_params(folder, root):
    """The committed params.yaml pointed at a Kaggle-layout folder (data=ucf_crime_frames), written to ``folder``."""
    params = folder / "params.yaml"
    params.write_text(
        (REPO / "params.yaml").read_text().replace("source: synthetic", "source: ucf_crime_frames")
        .replace("root: null", f"root: {root}", 1)
    )
    return params


def test_every_bad_input_is_skipped_with_its_reason(messy_root):
    result = index_frames(messy_root, CLASSES, 64, workers=2)
    reasons = {p.split("/")[-1]: r for p, r in ((s["path"], s["reason"]) for s in result.report["skipped"])}
    assert reasons["Abuse003_x264_0.png"] == "empty file"
    assert reasons["Abuse003_x264_10.png"].startswith("corrupt PNG")
    assert reasons["Abuse003_x264_20.png"].startswith("corrupt PNG")
    assert reasons["Abuse003_x264_30.png"] == "not PNG data"
    assert reasons["notes.txt"] == "not a .png file"
    assert reasons["Thumbs.db"] == "not a .png file"
    assert reasons["cover.png"] == "no frame number in file name"
    assert reasons["Abuse004_x264_abc.png"] == "no frame number in file name"
    assert reasons["Aliens001_x264_0.png"] == "unknown class folder 'Aliens'"
    assert reasons["stray_0.png"] == "file outside any class folder"
    assert result.report["skipped_count"] == len(reasons) == 10
    assert result.report["skipped_by_reason"]["corrupt PNG"] == 2


def test_convertible_frames_are_converted_and_counted(messy_root):
    result = index_frames(messy_root, CLASSES, 64, workers=1)
    frames = result.frames.set_index(result.frames["path"].str.split("/").str[-1])
    assert frames.loc["Abuse005_x264_0.png", "conversions"] == "grey"
    assert frames.loc["Abuse005_x264_10.png", "conversions"] == "alpha"
    assert frames.loc["Abuse005_x264_20.png", "conversions"] == "16bit"
    assert frames.loc["Abuse005_x264_30.png", "conversions"] == "resized"
    assert result.report["converted_by_kind"] == {"grey": 1, "alpha": 1, "16bit": 1, "resized": 1}
    assert result.report["converted_count"] == 4
    assert bool(frames.loc["Abuse006_x264_0.png", "nested"]) and result.report["nested_folder_frames"] == 1


def test_index_rows_identify_video_frame_and_split(messy_root):
    frames = index_frames(messy_root, CLASSES, 64, workers=2).frames
    video = frames[frames["video_id"] == "Abuse001_x264"]
    assert list(video["frame_number"]) == [i * 10 for i in range(40)]
    assert list(video["frame_index"]) == list(range(40))
    assert set(video["official_split"]) == {"train"} and set(video["label"]) == {CLASSES.index("Abuse")}
    assert set(frames.loc[frames["video_id"] == "Abuse002_x264", "official_split"]) == {"test"}
    assert frames["phash"].dtype == np.uint64
    # frames sort numerically (0, 10, ..., 100), not as text ("100" < "20")
    assert video["frame_number"].is_monotonic_increasing


def test_missing_class_folders_are_reported(messy_root):
    report = index_frames(messy_root, CLASSES, 64, workers=1).report
    assert "Arrest" in report["missing_class_folders"]["Train"]
    assert "Abuse" not in report["missing_class_folders"]["Train"]
    assert "NormalVideos" in report["missing_class_folders"]["Test"]


def test_frame_names_parse_like_the_writeups_code():
    assert parse_frame_name("Abuse001_x264_120.png") == ("Abuse001_x264", 120)
    assert parse_frame_name("Normal_Videos331_x264_71840.png") == ("Normal_Videos331_x264", 71840)
    assert parse_frame_name("Normal_Videos_003_x264_0.png") == ("Normal_Videos_003_x264", 0)
    assert parse_frame_name("cover.png") is None
    assert parse_frame_name("_5.png") is None
    assert parse_frame_name("x264_.png") is None


def test_empty_and_missing_roots_are_one_clear_error(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        scan_layout(tmp_path / "missing", CLASSES)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="holds no Train/ or Test/ folder"):
        scan_layout(tmp_path / "empty", CLASSES)
    (tmp_path / "empty" / "Train" / "Abuse").mkdir(parents=True)
    (tmp_path / "empty" / "Train" / "Abuse" / "junk.txt").write_text("x")
    with pytest.raises(HarnessError, match="holds no usable frames"):
        index_frames(tmp_path / "empty", CLASSES, 64, workers=1)


def test_wrapper_folder_is_found(tmp_path):
    good_video(tmp_path / "archive", "Train", "Abuse", "Abuse001_x264", 2)
    assert scan_layout(tmp_path, CLASSES).layout_root == str(tmp_path / "archive")


def test_prepare_stage_reports_instead_of_tracebacks(messy_root, tmp_path):
    """The stage on a user's messy folder: a one-line summary, the JSON report, no traceback."""
    params = real_frames_params(tmp_path, messy_root)
    out = tmp_path / "prepared"
    result = run(["python", str(REPO / "stages/prepare.py"), "--params", str(params), "--out", str(out)], cwd=tmp_path)
    assert "Traceback" not in result.stderr
    summary_line = [line for line in result.stderr.splitlines() if line.startswith("prepare: indexed")]
    assert len(summary_line) == 1 and "skipped 10 files, converted 4" in summary_line[0]
    report = json.loads((out / "report.json").read_text())
    assert len(report["skipped"]) == 10
    assert (out / "frames" / "README.txt").exists()  # indexed in place: nothing copied

    params.write_text(params.read_text().replace(f"root: {messy_root}", f"root: {tmp_path / 'nope'}"))
    failed = run(["python", str(REPO / "stages/prepare.py"), "--params", str(params), "--out", str(out)], cwd=tmp_path,
                 check=False)
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    assert f"prepare: error: params.yaml: data.root = '{tmp_path / 'nope'}' does not exist" in failed.stderr


def test_ambiguous_frame_identities_are_skipped(tmp_path):
    """A video id under two class folders, and one frame number twice, cannot be placed: both are listed."""
    root = tmp_path / "ucf"
    good_video(root, "Train", "Abuse", "Abuse001_x264", 3)
    good_video(root, "Train", "Arrest", "Abuse001_x264", 2, start_seed=50)  # same video id, another class
    good_video(root, "Train", "Arrest", "Arrest001_x264", 3, start_seed=60)
    write_rgb_png(root / "Train" / "Arrest" / "copy" / "Arrest001_x264_10.png", frame(99))  # frame 10 twice
    result = index_frames(root, CLASSES, 64, workers=1)
    reasons = [(s["path"].split("/")[-3:], s["reason"]) for s in result.report["skipped"]]
    ambiguous = [p for p, r in reasons if r == "video id 'Abuse001_x264' appears under more than one class or split"]
    assert len(ambiguous) == 5
    duplicates = [p for p, r in reasons if r == "duplicate frame number within its video"]
    assert len(duplicates) == 1 and duplicates[0][-1] == "Arrest001_x264_10.png"
    assert set(result.frames["video_id"]) == {"Arrest001_x264"}
    assert list(result.frames["frame_number"]) == [0, 10, 20]


def test_link_loops_and_empty_class_folders(tmp_path):
    root = tmp_path / "ucf"
    good_video(root, "Train", "Abuse", "Abuse001_x264", 2)
    (root / "Train" / "Abuse" / "loop").symlink_to(root / "Train" / "Abuse", target_is_directory=True)
    (root / "Train" / "Arrest").mkdir()  # present but empty
    result = index_frames(root, CLASSES, 64, workers=1)
    assert len(result.frames) == 2  # the frames once, not once per trip round the loop
    assert any(s["reason"] == "folder already listed (a symbolic link loop)" for s in result.report["skipped"])
    assert "Arrest" in result.report["missing_class_folders"]["Train"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder whatever its permissions")
def test_unreadable_folder_is_listed(tmp_path):
    root = tmp_path / "ucf"
    good_video(root, "Train", "Abuse", "Abuse001_x264", 2)
    locked = root / "Train" / "Abuse" / "locked"
    write_rgb_png(locked / "Abuse002_x264_0.png", frame(3))
    locked.chmod(0)
    try:
        result = index_frames(root, CLASSES, 64, workers=1)
    finally:
        locked.chmod(0o755)
    assert any(s["path"] == str(locked) and s["reason"].startswith("folder cannot be read")
               for s in result.report["skipped"])


def test_index_checksums_are_the_files_crc32(messy_root):
    frames = index_frames(messy_root, CLASSES, 64, workers=2).frames
    for path, checksum in zip(frames["path"][:5], frames["crc32"][:5], strict=True):
        with open(path, "rb") as f:
            assert checksum == zlib.crc32(f.read())
    assert frames["crc32"].dtype == np.uint32


def test_thumbnails_come_from_the_index_decode(messy_root):
    """The probe's thumbnails, made while the index decodes each PNG once, are the ones decoding each file again
    would give (converted frames included), row for row through the index's drops and sort."""
    from harness.leakage.probe import frame_thumbnails

    result = index_frames(messy_root, CLASSES, 64, workers=2, thumbnail_size=8)
    assert result.thumbnails.shape == (len(result.frames), 8 * 8 * 3) and result.thumbnails.dtype == np.uint8
    assert (result.frames["conversions"] != "").sum() == 4
    np.testing.assert_array_equal(result.thumbnails, frame_thumbnails(result.frames["path"].to_numpy(), 64, 8))
    assert index_frames(messy_root, CLASSES, 64, workers=1).thumbnails is None


def test_index_hashes_are_the_rgb_frames_phash(messy_root):
    """The index hashes frames in OpenCV's channel order (no colour pass a frame); its pHashes are those of the RGB
    frames the training loader reads, converted frames (grey, alpha, 16-bit, resized) included."""
    from harness.data.frames import read_frame
    from harness.data.phash import phash_batch

    frames = index_frames(messy_root, CLASSES, 64, workers=2).frames
    rgb = np.stack([read_frame(p, 64) for p in frames["path"]])
    assert (frames["conversions"] != "").sum() == 4
    np.testing.assert_array_equal(frames["phash"].to_numpy(), phash_batch(rgb))


@pytest.mark.parametrize("size", [0, 1, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, 3 << 20])
def test_read_bytes_reads_whole_files(tmp_path, size):
    """One os.read for a small file, more for a file of the first read's size or larger: the same bytes."""
    from harness.data.frames import read_bytes

    path = tmp_path / "f.bin"
    path.write_bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes())
    assert read_bytes(str(path)) == path.read_bytes()
    with pytest.raises(OSError):
        read_bytes(str(tmp_path))  # a folder: the index reports it as "cannot be read"


def test_split_stage_lists_videos_too_short_for_a_window(messy_root, tmp_path):
    """Prepare then split on a real folder: the short videos are named with their PNG counts."""
    params = real_frames_params(tmp_path, messy_root)
    run(["python", str(REPO / "stages/prepare.py"), "--params", str(params), "--out", str(tmp_path / "prepared")],
        cwd=tmp_path)
    result = run(["python", str(REPO / "stages/split.py"), "--strategy", "frame", "--params", str(params),
                  "--index", str(tmp_path / "prepared" / "index.parquet"), "--out", str(tmp_path / "frame")],
                 cwd=tmp_path)
    meta = json.loads((tmp_path / "frame" / "manifest.json").read_text())
    # Abuse002: 3 PNGs; Abuse005: the 4 convertible frames; Abuse006: 1 nested frame; a window spans 36
    assert meta["too_short_videos"] == {"Abuse002_x264": 3, "Abuse005_x264": 4, "Abuse006_x264": 1}
    assert meta["videos_too_short_for_a_window"] == 3
    assert "3 videos too short for one window" in result.stderr


@pytest.mark.parametrize("where", ["below", "beside", "same"])
def test_relative_paths_equal_resolving_each_path(messy_root, tmp_path, monkeypatch, where):
    from harness.data.index import _relative, relative_paths

    base = {"below": tmp_path, "beside": tmp_path / "elsewhere", "same": messy_root}[where]
    base.mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path)
    paths = [c.path for c in scan_layout(Path("ucf"), CLASSES).candidates]  # listed from a relative root
    assert relative_paths(paths, Path("ucf"), base) == [_relative(p, base) for p in paths]


@pytest.mark.parametrize("size", [8, 6, 64])
def test_a_batch_of_thumbnails_is_each_frames_thumbnail(size):
    """Stacked into one tall image where the size divides the frame (no area straddles two frames), frame by frame
    where it does not: the same bytes as thumbnail() of each frame."""
    from harness.data.frames import thumbnail, thumbnail_batch

    frames = np.random.default_rng(size).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
    expected = np.stack([thumbnail(f, size) for f in frames])
    np.testing.assert_array_equal(thumbnail_batch(frames, size), expected)
    assert thumbnail_batch(frames[:0], size).shape == (0, size * size * 3)
