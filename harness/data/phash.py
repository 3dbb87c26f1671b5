"""A vectorised 64-bit perceptual hash, bit-for-bit the one ``imagehash.phash`` computes.

imagehash (and imagededup) hash an image by: Pillow grey conversion, Pillow LANCZOS resize to 32x32,
2-D DCT-II, the 8x8 low-frequency block thresholded at its median. ``imagehash.phash`` costs about
2 ms a frame through Pillow; here a whole batch goes through two matrix products per pass, using
Pillow's own fixed-point grey formula and resampling coefficients so that the bits agree. The bit
order is imagehash's: row-major, first coefficient in the most significant bit, so
``int(str(imagehash.phash(img)), 16) == phash_batch(...)``.

Ties at the median (flat, featureless frames) are decided by floating-point rounding here as in
imagehash; such frames can hash differently in the two, and mean nothing to a near-duplicate check.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

HASH_SIZE = 8
DCT_SIZE = 32  # hash_size * highfreq_factor (4), as imagehash
_PRECISION_BITS = 32 - 8 - 2  # Pillow's Resample.c
_LANCZOS_SUPPORT = 3.0


def _lanczos(x: np.ndarray) -> np.ndarray:
    inside = (x >= -_LANCZOS_SUPPORT) & (x < _LANCZOS_SUPPORT)
    return np.where(inside, np.sinc(x) * np.sinc(x / _LANCZOS_SUPPORT), 0.0)


@lru_cache(maxsize=16)
def pillow_lanczos_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's fixed-point LANCZOS coefficients as an (out_size, in_size) float64 matrix of integers."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    matrix = np.zeros((out_size, in_size))
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        taps = np.arange(xmin, xmax)
        weights = _lanczos((taps - center + 0.5) / filterscale)
        total = weights.sum()
        if total != 0.0:
            weights = weights / total
        # Pillow rounds half away from zero into 22-bit fixed point
        fixed = np.where(weights < 0, -0.5, 0.5) + weights * (1 << _PRECISION_BITS)
        matrix[xx, xmin:xmax] = np.trunc(fixed)
    return matrix


@lru_cache(maxsize=16)
def _scaled(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's coefficients divided by 2**22, transposed for a right product: each product and every partial sum
    of a row is then a multiple of 2**-22 below 2**13, exact in float64, so the product is Pillow's sum / 2**22."""
    return np.ascontiguousarray(pillow_lanczos_matrix(in_size, out_size).T / (1 << _PRECISION_BITS))


def _resample(rows: np.ndarray, in_size: int, out_size: int) -> np.ndarray:
    """One Pillow pass over (M, in_size) rows: the fixed-point sums, plus half an LSB, shifted right by 22 bits and
    clipped to 0..255, as Resample.c's clip8 (the scaled product is sum / 2**22; adding 0.5 and flooring is the shift)."""
    out = rows @ _scaled(in_size, out_size)
    out += 0.5
    np.floor(out, out=out)
    return np.clip(out, 0, 255, out=out)


_GREY_WEIGHTS = np.array([[19595, 38470, 7471]], np.float64)  # Pillow's ITU-R 601-2 luma in 16-bit fixed point


def pillow_grey(rgb: np.ndarray) -> np.ndarray:
    """Pillow's RGB -> L conversion, ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16``, for (..., 3) uint8.

    One channel mix in float32 (cv2.transform, 5 times faster than three uint32 products in numpy): every product
    and every partial sum is an integer below 2**24, so float32 holds each exactly in any order of addition
    (checked over all 2**24 colours in tests/data/test_phash.py)."""
    if rgb.size == 0:
        return np.zeros(rgb.shape[:-1], np.uint8)
    image = np.ascontiguousarray(rgb).reshape(-1, rgb.shape[-2] if rgb.ndim > 2 else 1, 3).astype(np.float32)
    mixed = cv2.transform(image, _GREY_WEIGHTS)
    mixed += 0x8000
    mixed *= 1 / 65536  # a power of two: exact
    return np.floor(mixed).astype(np.uint8).reshape(rgb.shape[:-1])


def pillow_resize_lanczos(grey: np.ndarray, size: int) -> np.ndarray:
    """Pillow's two-pass LANCZOS resize (horizontal, then vertical) of (N, H, W) uint8 to (N, size, size)."""
    n, height, width = grey.shape
    x = grey.astype(np.float64)
    if width != size:  # rows of every frame in one matrix product
        x = _resample(x.reshape(-1, width), width, size).reshape(n, height, size)
    if height != size:  # columns likewise, on the transposed frames
        columns = np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(-1, height)
        x = _resample(columns, height, size).reshape(n, size, size).transpose(0, 2, 1)
    return x


@lru_cache(maxsize=1)
def _dct_rows() -> np.ndarray:
    """The first HASH_SIZE rows of scipy.fftpack's unnormalised DCT-II matrix of size DCT_SIZE."""
    k = np.arange(HASH_SIZE)[:, None]
    n = np.arange(DCT_SIZE)[None, :]
    return 2.0 * np.cos(math.pi * k * (2 * n + 1) / (2 * DCT_SIZE))


_BIT_WEIGHTS = np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64))


_CHUNK = 32  # frames per pass: keeps the float64 intermediates in cache (two index workers on 2 cores: 11,200 frames/s
# against 8,400 at 128, 0.69 of the decode floor against 0.51; tests/benchmarks/test_index_throughput.py)


def phash_batch(rgb: np.ndarray) -> np.ndarray:
    """64-bit pHashes (uint64) of a batch of RGB uint8 frames shaped (N, H, W, 3)."""
    if rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) frames, got {rgb.shape}")
    if len(rgb) == 0:
        return np.zeros(0, np.uint64)
    if len(rgb) > _CHUNK:
        return np.concatenate([phash_batch(rgb[i : i + _CHUNK]) for i in range(0, len(rgb), _CHUNK)])
    small = pillow_resize_lanczos(pillow_grey(rgb), DCT_SIZE)
    dct = _dct_rows()
    low = dct @ small @ dct.T  # (N, 8, 8): DCT along rows and columns, low frequencies only
    flat = low.reshape(len(rgb), -1)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    return (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between uint64 hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(a, b))
