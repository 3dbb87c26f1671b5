"""The shuffled-label control: labels permuted across videos, every window of a video keeping one label.

A model retrained on such labels can only score above its floor by recognising videos it has seen.
Under a split that puts windows of one video on both sides it still can; under a video-disjoint split
it cannot (Yagis et al. 2021: ~96% vs ~50% with random labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def shuffled_video_labels(windows: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per video: its true label and the label the control trains and scores it with.

    The permutation runs over videos, so the class mix over videos is kept and all windows of a
    video share one (meaningless) label.
    """
    videos = windows.groupby("video_id", sort=True)["label"].first().reset_index()
    rng = np.random.default_rng([seed, 7919])
    return pd.DataFrame({
        "video_id": videos["video_id"],
        "true_label": videos["label"].to_numpy(),
        "control_label": rng.permutation(videos["label"].to_numpy()),
    })


def apply_labels(windows: pd.DataFrame, video_labels: pd.DataFrame) -> np.ndarray:
    """The control label of each window."""
    mapping = video_labels.set_index("video_id")["control_label"]
    return mapping.loc[windows["video_id"]].to_numpy(np.int64)
