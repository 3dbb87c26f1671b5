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


_BAND = 8  # output columns a product: (rows x taps) @ (taps x 8) blocks, a third of the dense product's time


@lru_cache(maxsize=16)
def _bands(in_size: int, out_size: int) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """Pillow's coefficients divided by 2**22, transposed for a right product, cut into blocks of _BAND output
    columns, each with only the input columns its taps reach: (outputs, inputs, block). Each product and every
    partial sum of a row is a multiple of 2**-22 below 2**13, exact in float64 in any order, so leaving out the zero
    coefficients changes nothing and each block's product is Pillow's sum / 2**22."""
    scaled = pillow_lanczos_matrix(in_size, out_size).T / (1 << _PRECISION_BITS)
    out = []
    for start in range(0, out_size, _BAND):
        outputs = slice(start, min(start + _BAND, out_size))
        taps = np.nonzero(scaled[:, outputs].any(axis=1))[0]
        inputs = slice(int(taps.min()), int(taps.max()) + 1) if len(taps) else slice(0, 1)
        out.append((outputs, inputs, np.ascontiguousarray(scaled[inputs, outputs])))
    return tuple(out)


def _resample(x: np.ndarray, in_size: int, out_size: int, axis: int) -> np.ndarray:
    """One Pillow pass along ``axis`` (-1: rows, by right products; -2: columns, by left products, no transpose) of
    (N, H, W) float64 levels: the fixed-point sums, plus half an LSB, shifted right by 22 bits and clipped to 0..255,
    as Resample.c's clip8 (the scaled product is sum / 2**22; adding 0.5 and flooring is the shift)."""
    shape = list(x.shape)
    shape[axis] = out_size
    out = np.empty(shape)
    for outputs, inputs, block in _bands(in_size, out_size):
        if axis == -1:
            np.matmul(x[..., inputs], block, out=out[..., outputs])
        else:
            np.matmul(block.T, x[..., inputs, :], out=out[..., outputs, :])
    out += 0.5
    np.floor(out, out=out)
    return np.clip(out, 0, 255, out=out)


# Pillow's ITU-R 601-2 luma in 16-bit fixed point, with its rounding term as cv2.transform's offset column
_GREY_WEIGHTS = {"rgb": np.array([[19595, 38470, 7471, 0x8000]], np.float64),
                 "bgr": np.array([[7471, 38470, 19595, 0x8000]], np.float64)}  # frames in OpenCV's channel order


def pillow_grey(rgb: np.ndarray, order: str = "rgb") -> np.ndarray:
    """Pillow's RGB -> L conversion, ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16``, for (..., 3) uint8 whose
    channels are in ``order`` (rgb, or bgr as OpenCV decodes them)."""
    return _grey_levels(rgb, order).astype(np.uint8)


def _grey_levels(rgb: np.ndarray, order: str) -> np.ndarray:
    """pillow_grey's levels as float32 (the hash goes on in floating point, without a round trip through uint8).

    One channel mix in float32 (cv2.transform, 5 times faster than three uint32 products in numpy): every product
    and every partial sum, the rounding term included, is an integer below 2**24, so float32 holds each exactly in
    any order of addition (checked over all 2**24 colours in tests/data/test_phash.py)."""
    if rgb.size == 0:
        return np.zeros(rgb.shape[:-1], np.float32)
    image = np.ascontiguousarray(rgb).reshape(-1, rgb.shape[-2] if rgb.ndim > 2 else 1, 3).astype(np.float32)
    mixed = cv2.transform(image, _GREY_WEIGHTS[order])
    mixed *= 1 / 65536  # a power of two: exact
    return np.floor(mixed, out=mixed).reshape(rgb.shape[:-1])


def pillow_resize_lanczos(grey: np.ndarray, size: int) -> np.ndarray:
    """Pillow's two-pass LANCZOS resize (horizontal, then vertical) of (N, H, W) grey levels 0..255 (integers, of
    any type) to (N, size, size)."""
    n, height, width = grey.shape
    x = grey.astype(np.float64)
    if width != size:  # rows of every frame in one matrix product a band
        x = _resample(x.reshape(-1, width), width, size, axis=-1).reshape(n, height, size)
    if height != size:  # then the columns
        x = _resample(x, height, size, axis=-2)
    return x


@lru_cache(maxsize=1)
def _dct_rows() -> np.ndarray:
    """The first HASH_SIZE rows of scipy.fftpack's unnormalised DCT-II matrix of size DCT_SIZE."""
    k = np.arange(HASH_SIZE)[:, None]
    n = np.arange(DCT_SIZE)[None, :]
    return 2.0 * np.cos(math.pi * k * (2 * n + 1) / (2 * DCT_SIZE))


_CHUNK = 32  # frames per pass: keeps the float64 intermediates in cache (two index workers on 2 cores: 11,200 frames/s
# against 8,400 at 128, measured when the index was first vectorised; tests/benchmarks/test_index_throughput.py)


def phash_batch(rgb: np.ndarray, order: str = "rgb") -> np.ndarray:
    """64-bit pHashes (uint64) of a batch of uint8 frames shaped (N, H, W, 3), channels in ``order`` (rgb or bgr)."""
    if rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) frames, got {rgb.shape}")
    if len(rgb) == 0:
        return np.zeros(0, np.uint64)
    if len(rgb) > _CHUNK:
        return np.concatenate([phash_batch(rgb[i : i + _CHUNK], order) for i in range(0, len(rgb), _CHUNK)])
    small = pillow_resize_lanczos(_grey_levels(rgb, order), DCT_SIZE)
    dct = _dct_rows()
    low = dct @ small @ dct.T  # (N, 8, 8): DCT along rows and columns, low frequencies only
    flat = low.reshape(len(rgb), -1)
    middle = flat.shape[1] // 2  # 64 coefficients: the median is the mean of the 32nd and 33rd, as numpy.median's
    ranked = np.partition(flat, (middle - 1, middle), axis=1)
    median = (ranked[:, middle - 1] + ranked[:, middle]) / 2
    bits = np.packbits(flat > median[:, None], axis=1)  # row-major, first coefficient in the most significant bit
    return bits.view(">u8").ravel().astype(np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between uint64 hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(a, b))
