"""Decoding one PNG into the harness's frame format: RGB uint8, image_size x image_size (the index keeps OpenCV's
BGR order, ``decode_png_bgr``, and hashes it as such).

The indexer and the training loader both go through ``decode_png_bgr`` so that a frame the prepare
stage counted as convertible (grey, RGBA, 16-bit, odd size) is converted the same way when it is
trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"



def silence_decoder_warnings() -> None:
    """Stop OpenCV's warnings about corrupt files; the prepare report lists those files instead."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class UnusableFrame(Exception):
    """The file cannot become a frame; the message is the reason shown in the prepare report."""


@dataclass(frozen=True)
class Decoded:
    rgb: np.ndarray  # (size, size, 3) uint8
    conversions: tuple[str, ...]  # what was done to make it so: grey, alpha, 16bit, resized


def decode_png_bgr(data: bytes, image_size: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Decode PNG bytes into an image_size x image_size frame in OpenCV's channel order (BGR), converting what can
    be converted, with the conversions made. The index hashes this order directly (no colour-order pass a frame)."""
    if not data:
        raise UnusableFrame("empty file")
    if not data.startswith(PNG_SIGNATURE):
        raise UnusableFrame("not PNG data")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise UnusableFrame("corrupt PNG (cannot be decoded)")
    if image.dtype == np.uint8 and image.shape == (image_size, image_size, 3):
        return image, ()  # the usual frame: nothing to convert
    return _convert(image, image_size)


def _convert(image: np.ndarray, image_size: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """A decoded image that is not yet an image_size x image_size 8-bit BGR frame made one, with what was done."""
    conversions = []
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
        conversions.append("16bit")
    elif image.dtype != np.uint8:
        raise UnusableFrame(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
        conversions.append("grey")
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        conversions.append("alpha")
    elif image.shape[2] != 3:
        raise UnusableFrame(f"unsupported channel count {image.shape[2]}")
    if image.shape[0] != image_size or image.shape[1] != image_size:
        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
        conversions.append("resized")
    return image, tuple(conversions)


def decode_png_bytes(data: bytes, image_size: int) -> Decoded:
    """Decode PNG bytes into an RGB frame, converting what can be converted."""
    bgr, conversions = decode_png_bgr(data, image_size)
    return Decoded(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), conversions)


def read_bytes(path: str, block: int = 1 << 16) -> bytes:
    """A file's bytes through one os.open and os.read calls until one returns nothing (two for a file under
    ``block`` bytes): 6.5 us a 64x64 PNG here against 11.3 us for ``open(path, "rb").read()``, which builds a
    buffered file object first. A short read is not taken for the end (some file systems return them early)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        parts = [os.read(fd, block)]
        while parts[-1]:
            parts.append(os.read(fd, max(block, 1 << 20)))
        return b"".join(parts)
    finally:
        os.close(fd)


def read_frame(path: str, image_size: int) -> np.ndarray:
    """Read a PNG from disk as an RGB frame (the training loader's path)."""
    return decode_png_bytes(read_bytes(path), image_size).rgb


def thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """A frame as the memorisation probe sees it: ``size`` x ``size`` RGB uint8, area-averaged, flattened."""
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).ravel()


def thumbnail_batch(frames: np.ndarray, size: int) -> np.ndarray:
    """``thumbnail`` of each of (N, H, W, 3) frames, (N, size * size * 3). Where ``size`` divides H and W, the frames
    go through one resize stacked as a single tall image (no area straddles two frames then; half the time of a
    call a frame)."""
    n, height, width, _ = frames.shape
    if n == 0:
        return np.zeros((0, size * size * 3), np.uint8)
    if height % size or width % size:
        return np.stack([thumbnail(f, size) for f in frames])
    tall = cv2.resize(frames.reshape(n * height, width, 3), (size, n * size), interpolation=cv2.INTER_AREA)
    return tall.reshape(n, size * size * 3)


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 frame as PNG."""
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
