"""The vectorised pHash agrees bit for bit with imagehash.phash (the test-only oracle)."""

from __future__ import annotations

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from harness.data.phash import hamming, phash_batch, pillow_grey, pillow_resize_lanczos


def oracle(rgb: np.ndarray) -> int:
    return int(str(imagehash.phash(Image.fromarray(rgb))), 16)


def natural_images(n: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """Smooth structure plus noise: images with a well-defined median (no flat-image ties)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 6, 6, 3)).astype(np.float32)
    smooth = np.stack([cv2.resize(c, (size[1], size[0]), interpolation=cv2.INTER_CUBIC) for c in coarse])
    return np.clip(smooth * 255 + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [(64, 64), (50, 70), (120, 90), (20, 20)])
def test_matches_imagehash_bit_for_bit(size):
    images = natural_images(150, size, seed=size[0])
    ours = phash_batch(images)
    expected = np.array([oracle(im) for im in images], np.uint64)
    np.testing.assert_array_equal(ours, expected)


def test_grey_and_resize_match_pillow():
    images = natural_images(40, (64, 64), seed=3)
    grey = pillow_grey(images)
    pil_grey = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in images])
    np.testing.assert_array_equal(grey, pil_grey)
    pil_small = np.stack([np.asarray(Image.fromarray(g).resize((32, 32), Image.Resampling.LANCZOS)) for g in pil_grey])
    np.testing.assert_array_equal(pillow_resize_lanczos(grey, 32), pil_small)


def test_grey_frames_hash_like_their_rgb_copy():
    grey = natural_images(20, (64, 64), seed=5)[..., 0]
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    expected = [int(str(imagehash.phash(Image.fromarray(g))), 16) for g in grey]
    np.testing.assert_array_equal(phash_batch(rgb), np.array(expected, np.uint64))


def test_bgr_frames_hash_like_their_rgb_copy():
    """The index hashes frames in OpenCV's channel order, with the grey weights swapped: the same bits."""
    images = natural_images(60, (64, 64), seed=11)
    expected = np.array([oracle(im) for im in images], np.uint64)
    np.testing.assert_array_equal(phash_batch(np.ascontiguousarray(images[..., ::-1]), "bgr"), expected)


def test_batching_does_not_change_hashes():
    images = natural_images(300, (64, 64), seed=7)
    whole = phash_batch(images)
    pieces = np.concatenate([phash_batch(images[i : i + 7]) for i in range(0, 300, 7)])
    np.testing.assert_array_equal(whole, pieces)


def test_similar_frames_are_close_and_different_frames_far():
    images = natural_images(50, (64, 64), seed=9)
    rng = np.random.default_rng(0)
    noisy = np.clip(images + rng.normal(0, 4, images.shape), 0, 255).astype(np.uint8)
    near = hamming(phash_batch(images), phash_batch(noisy))
    far = hamming(phash_batch(images), phash_batch(images[::-1]))
    assert np.median(near) <= 4 < np.median(far)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError):
        phash_batch(np.zeros((2, 64, 64), np.uint8))


def test_grey_is_pillows_formula_for_every_colour():
    """All 2**24 colours through the float32 channel mix against Pillow's integer formula."""
    v = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=-1).astype(np.uint8)
    r, g, b = (rgb[:, i].astype(np.uint32) for i in range(3))
    expected = (19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16
    for shape in [(4096, 4096, 3), (-1, 3)]:
        np.testing.assert_array_equal(pillow_grey(rgb.reshape(shape)).reshape(-1), expected)
    np.testing.assert_array_equal(pillow_grey(np.ascontiguousarray(rgb[:, ::-1]), "bgr"), expected)
