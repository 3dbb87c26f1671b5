"""The Kaggle UCF-Crime frame layout: ``<root>/Train|Test/<Class>/<VideoId>_<n>.png``.

The write-up's code takes the video id from the file stem split once from the right on ``_``:
``Abuse001_x264_120.png`` is frame 120 of video ``Abuse001_x264``; frames of a video sort by that
number (reference.md section 1).
"""

from __future__ import annotations

OFFICIAL_SPLITS = {"Train": "train", "Test": "test"}


def parse_frame_name(filename: str) -> tuple[str, int] | None:
    """``'Abuse001_x264_120.png'`` -> ``('Abuse001_x264', 120)``; None if the name has no frame number."""
    stem = filename[:-4] if filename.lower().endswith(".png") else filename
    video_id, sep, number = stem.rpartition("_")
    if not sep or not video_id or not number.isdigit():
        return None
    return video_id, int(number)


def video_name(class_name: str, number: int, official_split: str, normal_class: str) -> str:
    """Video ids as the real set spells them (reference.md section 2).

    Train normals are ``Normal_Videos331_x264``, Test normals ``Normal_Videos_003_x264``, anomalies
    ``Abuse001_x264``.
    """
    if class_name == normal_class:
        if official_split == "test":
            return f"Normal_Videos_{number:03d}_x264"
        return f"Normal_Videos{number:03d}_x264"
    return f"{class_name}{number:03d}_x264"


def frame_filename(video_id: str, frame_number: int) -> str:
    return f"{video_id}_{frame_number}.png"
