"""Turn a drawing from the canvas into a 28x28 MNIST-style input, the way LeCun normalised MNIST's digits."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

MNIST_SIZE = 28
# LeCun scaled every digit so that its longer side fits a 20x20 box, keeping the aspect ratio.
DIGIT_BOX = 20
# Where the ink's centre of mass lands, in (row, col) pixel indices of the 28x28 output (pixel centres at
# integers). Measured on the bundled training set: MNIST's centres of mass average (14.00, 14.01) with a
# spread of 0.29 px, which is what an integer shift that rounds to pixel 14 leaves behind (a uniform error
# of +-0.5 px has a standard deviation of 1/sqrt(12) = 0.29). We shift the same way, so our images match.
MNIST_CENTRE = 14.0
# Ink fainter than this (10 % of full strength) is treated as background: anti-aliasing haze, compression
# noise or a faint smudge must neither stretch the bounding box nor pull the centre of mass.
NOISE_LEVEL = 0.1
# A drawing with less ink than this, in full-strength pixels of the input, counts as blank. One stray pixel
# is noise; a deliberate dot with the thinnest brush already covers a few pixels.
MIN_INK = 2.0
# What is not one digit. A dot's ink fits in a box this fraction of the pad's side (the brush alone is 18 px of
# 280, so a tap leaves about 0.07; the smallest hand-made digit of benchmarks/drawn_digits.py spans 0.28). A scribble
# inks more than this fraction of the whole pad (the hand-made digits ink at most 0.14, the median 0.07).
DOT_SIDE = 0.1
SCRIBBLE_COVER = 0.3
EMPTY, DOT, SCRIBBLE = "empty", "dot", "scribble"
HINTS = {
    EMPTY: "Draw a digit",
    DOT: "That is a dot, not a digit: draw one digit, large, inside the box.",
    SCRIBBLE: "That covers most of the pad: press Clear and draw one digit, with clear strokes.",
}
# A drawing arrives from the browser as a PNG of the pad (280 px, times the screen's pixel ratio at most). Anything
# far larger is no drawing: a small compressed file can hold a picture of gigabytes, so the size is checked from
# the PNG's header before a single pixel is decoded.
MAX_DRAWING_BYTES = 4_000_000
MAX_DRAWING_SIDE = 2048
# Area averaging is the anti-aliasing LeCun describes: each output pixel becomes the fraction of its area that
# ink covers, with none of the ringing Lanczos leaves around strokes. On benchmarks/drawn_digits.py it also matches
# MNIST's footprint best: 145 non-zero pixels a digit against MNIST's 150 (Lanczos: 191).
_RESAMPLE = Image.Resampling.BOX
# ITU-R BT.601 luma weights, the ones Pillow uses for its "L" mode.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_EXPECTED_SHAPES = (
    "an image of shape (height, width, 4) such as st_canvas(..., return_image_data=True).image_data, "
    "or (height, width, 3) for RGB, or (height, width) for grayscale"
)


def read_drawing(png: bytes) -> np.ndarray:
    """The pixels of a drawing's PNG (or other image file), refused with ValueError before decoding when the file or
    the picture it declares is larger than any drawing pad makes."""
    if len(png) > MAX_DRAWING_BYTES:
        raise ValueError(f"The drawing's file is {len(png):,} bytes, more than the {MAX_DRAWING_BYTES:,} a drawing "
                         "needs: press Clear and draw again.")
    try:
        with Image.open(io.BytesIO(png)) as picture:
            width, height = picture.size  # read from the header; no pixel is decoded yet
            if max(width, height) > MAX_DRAWING_SIDE:
                raise ValueError(f"The drawing is {width:,} x {height:,} pixels, larger than any drawing pad "
                                 f"({MAX_DRAWING_SIDE:,} at most): press Clear and draw again.")
            return np.asarray(picture)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError("The drawing could not be read; press Clear and draw again.") from error


def _as_unit_float(image: np.ndarray) -> np.ndarray:
    """Validate an image and return it as float32 (height, width, channels) with values in [0, 1]."""
    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Expected {_EXPECTED_SHAPES} with numeric pixels; could not read it as one ({error})."
        ) from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"Expected {_EXPECTED_SHAPES} with numeric pixels; got an array of dtype {array.dtype}.")
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"Expected {_EXPECTED_SHAPES}; got an array of shape {np.shape(image)}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"Expected {_EXPECTED_SHAPES}; got an empty image of shape {np.shape(image)}.")

    if array.dtype.kind == "b":
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("The image contains NaN or infinite pixel values; expected values in [0, 1] or [0, 255].")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 255.0:
        raise ValueError(f"Pixel values must lie in [0, 1] or [0, 255]; this image spans [{low:g}, {high:g}].")
    # Floats no brighter than 1 are taken to be in [0, 1]: an image in [0, 255] that faint would be blank anyway.
    if array.dtype.kind == "f" and high <= 1.0:
        return array.astype(np.float32)
    # Integers of any width, and floats above 1, are read as 8-bit intensities.
    return array.astype(np.float32) / 255.0


def _border_value(luminance: np.ndarray) -> float:
    """The most common luminance on the image's border, taken as the background."""
    border = np.concatenate([luminance[0], luminance[-1], luminance[:, 0], luminance[:, -1]])
    # Counting whole 8-bit levels finds the dominant value even when a stroke touches the edge.
    levels = np.rint(border * 255.0).astype(np.int64)
    return float(np.bincount(levels, minlength=256).argmax()) / 255.0


def ink_map(image: np.ndarray) -> np.ndarray:
    """Return how much ink each pixel holds: float32 (height, width) in [0, 1], 0 = background.

    The canvas (streamlit-drawable-canvas 0.13) leaves its background transparent unless `background_color`
    is set, so its strokes live in the alpha channel: where alpha varies, alpha is the ink, whatever the
    stroke colour. Otherwise (RGB, grayscale, or an opaque canvas with a background colour) the ink is the
    luminance's distance from the background, which is the border's dominant value. That handles white on
    black as well as black on white. An image with no background on its border, such as one covered
    entirely in ink, therefore has no ink.
    """
    pixels = _as_unit_float(image)  # (height, width, channels)
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3]
        if float(alpha.max() - alpha.min()) > 0.5 / 255.0:
            return alpha
        pixels = pixels[:, :, :3]
    luminance = pixels @ _LUMA_WEIGHTS if pixels.shape[2] == 3 else pixels[:, :, 0]  # (height, width)
    background = _border_value(luminance)
    # Dividing by the largest possible distance makes full-contrast ink 1 on any background shade.
    return (np.abs(luminance - background) / max(background, 1.0 - background)).astype(np.float32)


def _clean_ink(image: np.ndarray) -> np.ndarray | None:
    """The ink map with haze below NOISE_LEVEL removed, or None when what is left is negligible."""
    ink = ink_map(image)
    ink = np.where(ink >= NOISE_LEVEL, ink, np.float32(0.0))
    if float(ink.sum()) < MIN_INK:
        return None
    return ink


def drawing_problem(image: np.ndarray) -> str | None:
    """Why a drawing is not one digit a network should be asked about: EMPTY, DOT or SCRIBBLE, else None.

    A network answers every input with some digit, often with high confidence, even a blank pad or a scribble;
    the Draw page shows HINTS[problem] instead of such an answer.
    """
    ink = _clean_ink(image)
    if ink is None:
        return EMPTY
    inked = ink > 0.0  # (height, width)
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    if side < DOT_SIDE * max(inked.shape):
        return DOT
    if float(inked.mean()) > SCRIBBLE_COVER:
        return SCRIBBLE
    return None


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The intensity-weighted centre of a 2-D image as (row, col) pixel indices."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"Expected a 2-D image of shape (height, width); got shape {image.shape}.")
    total = image.sum()
    if total <= 0.0:
        raise ValueError("The image has no ink, so it has no centre of mass.")
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    cols = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return float(rows), float(cols)


def to_mnist(image: np.ndarray) -> np.ndarray | None:
    """Preprocess a drawing exactly as MNIST's digits were: float32 (28, 28) in [0, 1], 1 = ink.

    Steps, following LeCun's description of MNIST: crop to the ink's bounding box; scale it with an
    anti-aliasing filter so that its longer side is DIGIT_BOX (20) pixels, keeping the aspect ratio; place
    it in a 28x28 field, shifted by whole pixels so that its centre of mass lands within half a pixel of
    (14, 14). Faint ink, as a 1-pixel brush leaves after a tenfold shrink, is brightened so that the
    strongest pixel is 1, as in MNIST. Returns None for a blank canvas (no ink, or only negligible noise).
    """
    ink = _clean_ink(image)
    if ink is None:
        return None
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])  # (h, w)
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    new_width = max(1, round(width * scale))
    new_height = max(1, round(height * scale))
    digit = np.asarray(Image.fromarray(crop).resize((new_width, new_height), _RESAMPLE))
    digit = np.clip(digit, 0.0, 1.0)  # (new_height, new_width), the longer side DIGIT_BOX
    peak = float(digit.max())
    if peak <= 0.0:
        return None
    digit = digit / peak

    # A whole-pixel shift keeps the strokes as sharp as the resize left them and is what MNIST did
    # (see MNIST_CENTRE); a subpixel shift would blur them once more.
    row, col = centre_of_mass(digit)
    top = int(np.floor(MNIST_CENTRE - row + 0.5))
    left = int(np.floor(MNIST_CENTRE - col + 0.5))
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    # A lopsided digit can be pushed partly outside the field, as in MNIST: paste only the part that fits.
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    rows_fit = min(new_height - src_top, MNIST_SIZE - dst_top)
    cols_fit = min(new_width - src_left, MNIST_SIZE - dst_left)
    field[dst_top : dst_top + rows_fit, dst_left : dst_left + cols_fit] = digit[
        src_top : src_top + rows_fit, src_left : src_left + cols_fit
    ]
    return field


def naive_resize(image: np.ndarray) -> np.ndarray | None:
    """Shrink the whole canvas to 28x28 without cropping, scaling or centring: float32 (28, 28), 1 = ink.

    Kept to show what LeCun's normalisation buys: the digit keeps the size and place it had on the canvas,
    and a non-square canvas is squashed. Same ink map, filter and blank test as to_mnist, so the geometry is
    the only difference. Returns None for a blank canvas.
    """
    ink = _clean_ink(image)
    if ink is None:
        return None
    small = Image.fromarray(np.ascontiguousarray(ink)).resize((MNIST_SIZE, MNIST_SIZE), _RESAMPLE)
    return np.clip(np.asarray(small), 0.0, 1.0).astype(np.float32)
