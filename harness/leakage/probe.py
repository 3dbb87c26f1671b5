"""The memorisation probe: a model-free 1-nearest-neighbour look-up of training windows.

Each frame becomes a tiny colour thumbnail (``thumbnail_size`` pixels a side), each window the mean
thumbnail of its input frames; an evaluation window takes the label of its nearest training window
(Euclidean, exact: harness.leakage.nearest searches all windows' clusters once and proves what each look-up
skips). Such a look-up can only repeat what it has seen: it scores high exactly when evaluation
windows have near-copies in training (windows of the same video), and near chance when every
evaluation video is new. It needs no GPU and no training, so an auditor gets this evidence first.

Significance is a permutation test: the labels of the *training videos* are permuted among themselves
(every window of a video keeps one label, class counts of videos are kept) and the look-up is scored
again; the nearest neighbours do not change, so each permutation costs one indexing pass. The p-value
is (1 + #{permuted score >= observed}) / (1 + permutations) (Phipson & Smyth). It answers "does the
nearest training window carry the evaluation window's label more often than a label-free look-up
would?"; the split's majority-class floor is reported beside it.

The gap curve (``gap_curve``) scores the same look-up on ``gap`` manifests built in memory for several
gaps: evaluation windows that share no frame with training and lie G PNGs or more after it, in the same
videos. Where the score stays at the frame split's level as G grows, the look-up needs no shared frames:
it recognises the scene; where it falls towards the video split's, the frame split's score was shared frames.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from harness.config import EvaluateConfig, ProbeConfig, SplitsConfig, WindowConfig
from harness.data.frames import read_frame, thumbnail
from harness.data.windows import frame_rows
from harness.leakage.nearest import WindowSearch
from harness.leakage.splits import gap_split
from harness.scoring.metrics import (
    confusion,
    majority_rate,
    score_predictions,
    score_with_intervals,
    scores_from_confusion,
)

MODEL_NAME = "nearest_neighbour"  # how the probe appears beside the trained models


def frame_thumbnails(paths: np.ndarray, image_size: int, size: int, threads: int = 2) -> np.ndarray:
    """(n_frames, size * size * 3) uint8 thumbnails of every frame (harness.data.frames.thumbnail), decoded from
    the files. The pipeline does not call this: the prepare stage's index pass writes the same thumbnails while it
    decodes each PNG once (thumbnails.npy); this is the reference the tests hold that file to."""
    cv2.setNumThreads(1)

    def one(path: str) -> np.ndarray:
        return thumbnail(read_frame(path, image_size), size)

    with ThreadPoolExecutor(max(threads, 1)) as pool:  # OpenCV decodes without the GIL
        rows = list(tqdm(pool.map(one, paths, chunksize=256), total=len(paths), desc="thumbnails", unit="frame",
                         mininterval=2, disable=None))  # disable=None: no bar when not a terminal
    return np.stack(rows) if rows else np.zeros((0, size * size * 3), np.uint8)


def window_features(thumbnails: np.ndarray, windows: pd.DataFrame, window_cfg: WindowConfig,
                    chunk: int = 16_384) -> np.ndarray:
    """Each window's mean thumbnail over its input frames (float32), a chunk of windows at a time: a window's
    frames gathered at once would take windows x frames x features floats (about 4 GB at UCF-Crime's size)."""
    rows = frame_rows(windows, window_cfg)
    out = np.empty((len(rows), thumbnails.shape[1]), np.float32)
    for start in range(0, len(rows), chunk):
        out[start : start + chunk] = thumbnails[rows[start : start + chunk]].mean(axis=1, dtype=np.float32)
    return out


def permutation_scores(train_videos: np.ndarray, train_labels: np.ndarray, neighbour: np.ndarray,
                       eval_labels: np.ndarray, permutations: int, seed: int) -> dict[str, np.ndarray]:
    """Accuracy and macro-F1 of the look-up after each permutation of the training videos' labels."""
    codes, _ = pd.factorize(train_videos)
    video_label = pd.Series(train_labels).groupby(codes).first().to_numpy(np.int64)
    neighbour_video = codes[neighbour]
    k = int(max(video_label.max(initial=0), eval_labels.max(initial=0))) + 1
    truth = eval_labels.astype(np.int64) * k
    rng = np.random.default_rng(seed)
    confusions = np.empty((permutations, k, k), np.int64)
    for i in range(permutations):  # one confusion matrix each (bincount), scored together as scikit-learn scores
        predicted = rng.permutation(video_label)[neighbour_video]
        confusions[i] = np.bincount(truth + predicted, minlength=k * k).reshape(k, k)
    scores = scores_from_confusion(confusions)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


def look_up(search: WindowSearch, train: pd.DataFrame, evaluation: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each evaluation window's prediction (its nearest training window's label, exact Euclidean) and that
    neighbour's row in ``train``. ``search`` holds the window features (row = window_id); ``train`` and
    ``evaluation`` are manifest rows."""
    eval_ids = evaluation["window_id"].to_numpy()
    neighbour, _ = search.nearest(train["window_id"].to_numpy(), eval_ids)
    predictions = pd.DataFrame({"window_id": eval_ids, "video_id": evaluation["video_id"].to_numpy(),
                                "label": evaluation["label"].to_numpy(np.int64),
                                "predicted": train["label"].to_numpy(np.int64)[neighbour],
                                "neighbour_video_id": train["video_id"].to_numpy()[neighbour]})
    return predictions, neighbour


def probe(search: WindowSearch, train: pd.DataFrame, evaluation: pd.DataFrame, class_names: tuple[str, ...],
          cfg: ProbeConfig, evaluate: EvaluateConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Predictions and scores of the look-up on one split, scored as the evaluate stage scores a model
    (a video's class: its windows' majority), plus the permutation test.

    ``search`` holds the window features (row = window_id); ``train`` and ``evaluation`` are manifest rows.
    """
    n_classes = len(class_names)
    predictions, neighbour = look_up(search, train, evaluation)
    labels, predicted = predictions["label"].to_numpy(), predictions["predicted"].to_numpy()
    one_hot = pd.DataFrame(np.eye(n_classes)[predicted], columns=[f"p{i}" for i in range(n_classes)])
    scores = score_predictions(pd.concat([predictions, one_hot], axis=1), class_names, evaluate)

    null = permutation_scores(train["video_id"].to_numpy(), train["label"].to_numpy(np.int64), neighbour, labels,
                              cfg.permutations, cfg.seed)
    # scored as each permutation is (an integer confusion matrix), so a permuted score equal to it compares equal
    scored = scores_from_confusion(confusion(labels, predicted, n_classes))
    observed = {name: float(scored[name]) for name in null}
    permutation = {"permutations": cfg.permutations}
    for name, value in observed.items():
        permutation[f"{name}_p_value"] = round(float((1 + np.sum(null[name] >= value)) / (1 + cfg.permutations)), 6)
        permutation[f"{name}_chance_mean"] = round(float(null[name].mean()), 6)
        permutation[f"{name}_chance_q99"] = round(float(np.quantile(null[name], 0.99)), 6)
    same_video = (predictions["neighbour_video_id"] == predictions["video_id"]).mean() if len(labels) else 0.0
    window = {**scores["window"], "neighbour_in_same_video": round(float(same_video), 6)}
    return predictions, {"window": window, "video": scores["video"], "permutation": permutation}


def gap_curve(search: WindowSearch, windows: pd.DataFrame, splits: SplitsConfig, window_cfg: WindowConfig,
              n_classes: int, evaluate: EvaluateConfig) -> list[dict[str, Any]]:
    """The look-up's window scores (video-bootstrap intervals) on the ``gap`` manifest of each gap in
    ``splits.gap.curve``, smallest gap first: one row per gap with its evaluation windows, videos and classes.

    ``windows`` is the full window table (``build_windows``; row = window_id, as the search's features). A gap no video
    is long enough for gives a row with no windows and no scores.
    """
    rows = []
    for gap in sorted(splits.gap.curve):
        manifest = gap_split(windows, replace(splits, gap=replace(splits.gap, frames=gap)), window_cfg)
        evaluation = manifest.role("test")
        row: dict[str, Any] = {"gap": gap, "windows": len(evaluation), "videos": int(evaluation["video_id"].nunique()),
                               "classes": int(evaluation["label"].nunique())}
        if len(evaluation):
            predictions, _ = look_up(search, manifest.role("train"), evaluation)
            y, yhat = predictions["label"].to_numpy(), predictions["predicted"].to_numpy()
            scored = score_with_intervals(y, yhat, predictions["video_id"].to_numpy(), n_classes,
                                          evaluate.bootstrap_resamples, evaluate.confidence, evaluate.seed)
            same_video = (predictions["neighbour_video_id"] == predictions["video_id"]).mean()
            row.update({k: v for k, v in scored.flat().items() if k.startswith(("accuracy", "macro_f1"))},
                       majority_class_rate=round(majority_rate(y), 6), neighbour_in_same_video=round(float(same_video), 6))
        rows.append(row)
    return rows
