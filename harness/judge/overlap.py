"""What the write-up's own split shares between training and "test", from its arithmetic alone.

The write-up's code (reference.md §1) cuts every video of ``Train/`` into windows (16 frames taken every 2nd
PNG, starts 4 PNGs apart), puts all windows into one dataset and splits that with ``random_split`` 80/20;
the 20% is the validation set, reported as the test set. Two windows of one video whose starts are d PNGs
apart share ``16 - d/2`` frames (harness.data.windows.shared_frames), so each window has up to 14 neighbours
that share at least one frame with it, and 2 that share 14 of its 16.

A uniform random split puts a given validation window's k neighbours all in validation with probability
``prod_{i<k} (V-1-i) / (N-1-i)`` (V validation windows of N: drawn without replacement, as a random
permutation does). The expected share of validation windows that share at least ``m`` frames with some
training window is therefore the mean, over all windows, of ``1 - that probability`` for the window's own
number of neighbours sharing at least ``m`` frames. Only the window counts of the videos enter, and they enter
only through each video's two ends: the registry's ``overlap`` section gives the printed split sizes, the
window settings and the dataset's per-class image and video counts (reference.md §2), from which each video's
length is taken as its class's mean (stated as an assumption), and ``worst_case`` gives the least share any
lengths with the same number of windows and videos allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from harness.config import WindowConfig
from harness.data.windows import shared_frames, windows_per_video
from harness.errors import HarnessError


def reach(cfg: WindowConfig, at_least: int) -> int:
    """How many window starts away a neighbour can be and still share ``at_least`` frames with a window."""
    if not 1 <= at_least <= cfg.sequence_length:
        raise HarnessError(f"at_least = {at_least} must be between 1 and {cfg.sequence_length}")
    steps = 0
    while shared_frames(0, (steps + 1) * cfg.window_step, cfg) >= at_least:
        steps += 1
    return steps


def neighbour_histogram(windows_per_video: Iterable[int], reach: int) -> np.ndarray:
    """How many windows have k neighbours within ``reach`` starts in their own video, for k = 0..2*reach."""
    counts = np.zeros(2 * reach + 1, dtype=np.int64)
    for m in windows_per_video:
        if m <= 0:
            continue
        j = np.arange(m)
        k = np.minimum(j, reach) + np.minimum(m - 1 - j, reach)
        counts += np.bincount(k, minlength=2 * reach + 1)[: 2 * reach + 1]
    return counts


def all_in_validation(k: int, train: int, validation: int) -> float:
    """Probability that k given windows are all in validation, given that one more window is."""
    total = train + validation
    if k > validation - 1:  # more neighbours than the other validation places
        return 0.0
    return float(np.prod([(validation - 1 - i) / (total - 1 - i) for i in range(k)])) if k else 1.0


def expected_shared_share(counts: Iterable[int], train: int, validation: int, windowing: WindowConfig,
                          at_least: int = 1) -> float:
    """Expected share of validation windows sharing at least ``at_least`` frames with a training window,
    when ``train + validation`` windows are split uniformly at random into sets of those sizes."""
    histogram = neighbour_histogram(counts, reach(windowing, at_least))
    if histogram.sum() == 0:
        raise HarnessError("no video is long enough for one window")
    leak = np.array([1 - all_in_validation(k, train, validation) for k in range(len(histogram))])
    return float((histogram * leak).sum() / histogram.sum())


def worst_case(total_windows: int, videos: int, train: int, validation: int, windowing: WindowConfig,
               at_least: int = 1) -> float:
    """The least expected share over every way of dealing ``total_windows`` windows to ``videos`` videos of at
    least one window each: ``videos - 1`` single-window videos (no neighbour) and one long video (checked by
    brute force over every composition in tests/judge/test_overlap.py)."""
    if videos < 1 or total_windows < videos:
        raise HarnessError(f"{total_windows} windows cannot fill {videos} videos of one window or more")
    return expected_shared_share([1] * (videos - 1) + [total_windows - videos + 1], train, validation,
                                 windowing, at_least)


def class_mean_lengths(dataset: dict[str, tuple[int, int]]) -> list[int]:
    """Each video's PNG count when every video of a class has its class's mean length (images dealt out as
    evenly as integers allow): ``dataset`` maps class -> (images, videos)."""
    lengths = []
    for name, (images, videos) in dataset.items():
        if videos < 1 or images < 0:
            raise HarnessError(f"overlap.dataset.{name} = [{images}, {videos}] needs images >= 0 and videos >= 1")
        base, extra = divmod(images, videos)
        lengths += [base + 1] * extra + [base] * (videos - extra)
    return lengths


def writeup_overlap(section: dict[str, Any]) -> dict[str, Any]:
    """The registry's ``overlap`` section worked out: the printed split, the window settings, the shares of
    validation windows sharing frames with training windows (class-mean lengths and the worst case), and
    what the derivation assumes."""
    try:
        train, validation = int(section["train_windows"]), int(section["validation_windows"])
        windowing = WindowConfig(**section["windows"])
        dataset = {name: (int(v[0]), int(v[1])) for name, v in section["dataset"].items()}
    except (KeyError, TypeError, ValueError, IndexError, HarnessError) as error:
        raise HarnessError(f"claims.yaml: the `overlap` section is incomplete or malformed ({error!r}); it needs "
                           "train_windows, validation_windows, windows and dataset: {class: [images, videos]}") from None
    per_video = windows_per_video(np.array(class_mean_lengths(dataset)), windowing).tolist()
    modelled = int(sum(per_video))
    videos = sum(v for _, v in dataset.values())
    out = {"train_windows": train, "validation_windows": validation, "windows_total": train + validation,
           "validation_fraction": validation / (train + validation), "windows_modelled": modelled,
           "videos": videos, "span": windowing.span, "sequence_length": windowing.sequence_length,
           "frame_stride": windowing.frame_stride, "window_step": windowing.window_step,
           "neighbour_shares": int(shared_frames(0, windowing.window_step, windowing)), "shares": {}}
    for at_least in sorted({1, out["neighbour_shares"]}):
        out["shares"][at_least] = {
            "neighbours": 2 * reach(windowing, at_least),
            "expected": expected_shared_share(per_video, train, validation, windowing, at_least),
            "worst_case": worst_case(train + validation, videos, train, validation, windowing, at_least)}
    out["assumptions"] = list(section.get("assumptions") or [])
    out["quotes"] = list(section.get("quotes") or [])
    return out
