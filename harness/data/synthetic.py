"""A synthetic dataset in the Kaggle UCF-Crime layout that makes the leakage mechanism observable.

Surveillance footage is mostly scene. Each video gets a *look* -- a fixed camera on a scene with its
own palette and lighting, panning and dimming slowly -- that is strong and unique to the video. Each
anomaly class gets an *event* -- a sprite with the class's shape, colour and motion -- that is weak
but shared by every video of the class. People (class-agnostic figures) walk through every video,
and every frame gets pixel noise.

A model that memorises looks scores well whenever windows of one video sit on both sides of a split,
and falls back to the weak event signal when they do not. Nothing here knows about splits: the gap
comes from the data's structure alone. ``scene_per_frame=True`` removes the per-video signature (a
fresh look every frame), which is the control under which no leakage can exist.

Every video is drawn from its own seeded generator, so the bytes do not depend on worker count.
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from harness.config import SyntheticConfig
from harness.data.frames import write_png
from harness.data.layout import frame_filename, video_name

FOLDERS = {"train": "Train", "test": "Test"}
_SHAPES = ("disc", "square", "ring", "cross", "stripes", "triangle", "diamond", "bar")


@dataclass(frozen=True)
class VideoPlan:
    official_split: str  # train | test
    class_name: str
    class_index: int  # position among the anomaly classes; -1 for the normal class
    number: int  # the video's number within its class and split folder
    n_frames: int  # PNGs to write
    seed: tuple[int, ...]  # seed of this video's own generator


def plan_videos(cfg: SyntheticConfig, classes: tuple[str, ...], normal_class: str) -> list[VideoPlan]:
    """Which videos to draw and how long each is; deterministic from ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 0])
    anomalies = [c for c in classes if c != normal_class]
    plans = []
    for split, split_index in (("train", 0), ("test", 1)):
        for class_name in classes:
            is_normal = class_name == normal_class
            count = {
                ("train", True): cfg.normal_train_videos,
                ("test", True): cfg.normal_test_videos,
                ("train", False): cfg.anomaly_train_videos,
                ("test", False): cfg.anomaly_test_videos,
            }[(split, is_normal)]
            low, high = cfg.normal_frames if is_normal else cfg.anomaly_frames
            # Test videos are numbered after Train videos of the same class, as in the real set
            first = 1 if split == "train" else (cfg.normal_train_videos if is_normal else cfg.anomaly_train_videos) + 1
            for i in range(count):
                plans.append(
                    VideoPlan(
                        official_split=split,
                        class_name=class_name,
                        class_index=-1 if is_normal else anomalies.index(class_name),
                        number=first + i,
                        n_frames=int(rng.integers(low, high + 1)),
                        seed=(cfg.seed, split_index, classes.index(class_name), first + i),
                    )
                )
    # a few Train videos too short for one window: the window builder must skip them
    for i in range(cfg.short_videos):
        class_name = classes[int(rng.integers(len(classes)))]
        is_normal = class_name == normal_class
        number = 900 + i
        plans.append(
            VideoPlan(
                official_split="train",
                class_name=class_name,
                class_index=-1 if is_normal else anomalies.index(class_name),
                number=number,
                n_frames=int(rng.integers(cfg.short_frames[0], cfg.short_frames[1] + 1)),
                seed=(cfg.seed, 2, classes.index(class_name), number),
            )
        )
    return plans


# --------------------------------------------------------------------------- drawing
def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    coarse = rng.random((cells, cells, 3)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _draw_scene(rng: np.random.Generator, size: int, contrast: float) -> np.ndarray:
    """A static scene: gradient, rectangles (buildings, shelves, cars), texture. Floats in [0, 1].

    Colours are drawn around one hue, saturation and brightness per scene: a camera's colour cast
    (sodium light, daylight, night infrared) is what makes its footage recognisable.
    """
    hue, saturation, value = rng.random(), rng.uniform(0.15, 0.9), rng.uniform(0.25, 0.9)

    def colour() -> np.ndarray:
        h = (hue + rng.normal(0, 0.06)) % 1.0
        s = float(np.clip(saturation + rng.normal(0, 0.15), 0, 1))
        v = float(np.clip(value + rng.normal(0, 0.2), 0.05, 1))
        return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32)

    a, b = colour(), colour()
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    canvas = (1 - t) * a + t * b
    for _ in range(int(rng.integers(4, 10))):
        w, h = rng.integers(size // 10, size // 2, size=2)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        canvas[y : y + h, x : x + w] = colour()
    texture = _smooth_noise(rng, size, int(rng.integers(4, 9))) - 0.5
    canvas = canvas + 0.25 * texture
    return np.clip(0.5 + contrast * (canvas - 0.5), 0, 1).astype(np.float32)


def _class_style(class_index: int, n_anomalies: int) -> tuple[str, np.ndarray, np.ndarray]:
    """Shape, RGB colour and unit velocity of an anomaly class's event (shared by all its videos)."""
    shape = _SHAPES[class_index % len(_SHAPES)]
    hue = class_index / max(n_anomalies, 1)
    color = np.array(colorsys.hsv_to_rgb(hue, 0.9, 1.0 if class_index % 2 else 0.75), np.float32)
    angle = 2 * np.pi * class_index / max(n_anomalies, 1)
    return shape, color, np.array([np.cos(angle), np.sin(angle)], np.float32)


def _sprite_mask(shape: str, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    r = np.hypot(yy - c, xx - c)
    masks = {
        "disc": r <= size / 2,
        "square": np.ones((size, size), bool),
        "ring": (r <= size / 2) & (r >= size / 4),
        "cross": (np.abs(yy - c) <= size / 6) | (np.abs(xx - c) <= size / 6),
        "stripes": ((xx + yy) // max(size // 4, 1)) % 2 == 0,
        "triangle": np.abs(xx - c) <= yy / 2,
        "diamond": np.abs(yy - c) + np.abs(xx - c) <= size / 2,
        "bar": np.abs(yy - c) <= size / 5,
    }
    return masks[shape].astype(np.float32)


def _paste(frame: np.ndarray, mask: np.ndarray, color: np.ndarray, x: float, y: float, alpha: float) -> None:
    size = frame.shape[0]
    h, w = mask.shape
    x0, y0 = int(round(x)), int(round(y))
    xs, ys = slice(max(x0, 0), min(x0 + w, size)), slice(max(y0, 0), min(y0 + h, size))
    if xs.start >= xs.stop or ys.start >= ys.stop:
        return
    m = mask[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0, None] * alpha
    frame[ys, xs] = (1 - m) * frame[ys, xs] + m * color


def _bounce(position: np.ndarray, velocity: np.ndarray, low: float, high: float) -> None:
    for axis in range(2):
        if not low <= position[axis] <= high:
            velocity[axis] = -velocity[axis]
            position[axis] = np.clip(position[axis], low, high)


def draw_video(plan: VideoPlan, cfg: SyntheticConfig, image_size: int, n_anomalies: int) -> Iterator[np.ndarray]:
    """Yield the video's frames as RGB uint8 arrays."""
    rng = np.random.default_rng(list(plan.seed))
    pad = cfg.drift_pixels + 1
    big = image_size + 2 * pad

    def new_look() -> tuple[np.ndarray, float, float]:
        return _draw_scene(rng, big, cfg.scene_contrast), rng.uniform(0.75, 1.25), rng.uniform(-0.08, 0.08)

    scene, gain, bias = new_look()
    pan_start = rng.uniform(0, 2 * pad - cfg.drift_pixels, size=2) if cfg.drift_pixels else np.full(2, pad, float)
    pan_dir = rng.normal(size=2)
    pan_dir /= max(float(np.linalg.norm(pan_dir)), 1e-6)
    light_phase = rng.uniform(0, 2 * np.pi)

    people = []
    for _ in range(cfg.people):
        tone = rng.uniform(0.15, 0.8)
        people.append(
            dict(
                mask=np.ones((max(image_size // 8, 2), max(image_size // 16, 1)), np.float32),
                color=np.array([tone, tone * 0.85, tone * 0.7], np.float32),
                pos=rng.uniform(0, image_size - image_size // 8, size=2),
                vel=rng.normal(0, 0.8, size=2),
            )
        )

    event = None
    if plan.class_index >= 0 and cfg.event_strength > 0:
        shape, color, direction = _class_style(plan.class_index, n_anomalies)
        event = dict(
            mask=_sprite_mask(shape, cfg.event_size),
            color=color,
            pos=rng.uniform(0, image_size - cfg.event_size, size=2),
            vel=direction * 1.5,
        )

    for t in range(plan.n_frames):
        if cfg.scene_per_frame and t > 0:
            scene, gain, bias = new_look()
        progress = t / max(plan.n_frames - 1, 1)
        ox, oy = np.clip(pan_start + cfg.drift_pixels * progress * pan_dir, 0, 2 * pad).astype(int)
        frame = scene[oy : oy + image_size, ox : ox + image_size].copy()
        light = bias + cfg.brightness_drift * np.sin(2 * np.pi * progress + light_phase)
        frame = frame * gain + light
        for person in people:
            person["pos"] += person["vel"] + rng.normal(0, 0.3, size=2)
            _bounce(person["pos"], person["vel"], 0, image_size - person["mask"].shape[0])
            _paste(frame, person["mask"], person["color"], person["pos"][0], person["pos"][1], 0.9)
        if event is not None:
            event["pos"] += event["vel"]
            _bounce(event["pos"], event["vel"], 0, image_size - cfg.event_size)
            _paste(frame, event["mask"], event["color"], event["pos"][0], event["pos"][1], cfg.event_strength)
        if cfg.noise_std > 0:
            frame = frame + rng.normal(0, cfg.noise_std / 255.0, frame.shape).astype(np.float32)
        yield (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- writing
def _write_video(args: tuple[VideoPlan, SyntheticConfig, str, int, str, int, int]) -> int:
    plan, cfg, root, image_size, normal_class, n_anomalies, frame_every = args
    folder = Path(root) / FOLDERS[plan.official_split] / plan.class_name
    video_id = video_name(plan.class_name, plan.number, plan.official_split, normal_class)
    for t, rgb in enumerate(draw_video(plan, cfg, image_size, n_anomalies)):
        write_png(str(folder / frame_filename(video_id, t * frame_every)), rgb)
    return plan.n_frames


def generate(
    cfg: SyntheticConfig,
    root: Path,
    classes: tuple[str, ...],
    normal_class: str,
    image_size: int,
    frame_every: int = 10,
    workers: int = 0,
) -> dict[str, int]:
    """Write the dataset's PNGs under ``root``; returns counts of videos and frames."""
    plans = plan_videos(cfg, classes, normal_class)
    for split in FOLDERS.values():
        for class_name in classes:
            (root / split / class_name).mkdir(parents=True, exist_ok=True)
    n_anomalies = len(classes) - 1
    jobs = [(p, cfg, str(root), image_size, normal_class, n_anomalies, frame_every) for p in plans]
    workers = workers or os.cpu_count() or 1
    frames = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        progress = tqdm(pool.map(_write_video, jobs, chunksize=4), total=len(jobs), desc="synthesise", unit="video",
                        disable=None)  # None: no bar when stderr is not a terminal (logs, CI)
        for n in progress:
            frames += n
    return {"videos": len(plans), "frames": frames}
