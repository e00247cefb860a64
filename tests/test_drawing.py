"""Tests for mnist_models.drawing: LeCun's normalisation of canvas drawings, checked against known answers."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.drawn_digits import (
    CANVAS_SIZE,
    DIGITS,
    MARGIN,
    TOOLBAR_BOTTOM,
    TOOLBAR_LEFT,
    DrawnDigit,
    render,
    translate,
)
from mnist_models.drawing import (
    DOT,
    EMPTY,
    HINTS,
    MNIST_SIZE,
    SCRIBBLE,
    centre_of_mass,
    drawing_problem,
    ink_map,
    naive_resize,
    to_mnist,
)

MNIST_FILE = Path(__file__).resolve().parents[1] / "mnist_models" / "data" / "mnist.npz"
# The known answers, written out rather than imported so that a wrong constant in the module fails here:
# LeCun's 20-pixel box, and the centre of mass at pixel (14, 14), where MNIST's own digits have theirs.
DIGIT_BOX = 20
CENTRE = 14.0


def _digit(label: int, style: str) -> DrawnDigit:
    return next(d for d in DIGITS if d.label == label and d.style == style)


def _ink_extent(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of the bounding box of the image's non-zero pixels."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> tuple[tuple[tuple[float, float], ...], ...]:
    points = [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 49)]
    return (tuple(points),)


def test_tall_digit_is_scaled_to_20_pixels_high_keeping_its_aspect_ratio():
    # A narrow 0: ellipse 60 x 200 px, 78 x 218 px with the 18 px pen, so (20, 20 * 78 / 218) = (20, ~7).
    image = to_mnist(render(_ellipse(140, 140, 30, 100)))
    height, width = _ink_extent(image)
    assert abs(height - DIGIT_BOX) <= 1
    assert 6 <= width <= 8


def test_wide_digit_is_scaled_to_20_pixels_wide_keeping_its_aspect_ratio():
    # A flat 0: ellipse 220 x 100 px, 238 x 118 px with the pen, so (20 * 118 / 238, 20) = (~10, 20).
    image = to_mnist(render(_ellipse(140, 140, 110, 50)))
    height, width = _ink_extent(image)
    assert abs(width - DIGIT_BOX) <= 1
    assert 9 <= height <= 11


def test_mnist_itself_centres_its_digits_on_pixel_14():
    # The centre convention comes from the data: MNIST's centres of mass average (14, 14) in pixel indices.
    with np.load(MNIST_FILE) as data:
        images = data["x_train"][:2000].astype(np.float64)
    rows, cols = np.arange(MNIST_SIZE), np.arange(MNIST_SIZE)
    mass = images.sum(axis=(1, 2))
    mean_row = float(np.mean((images.sum(axis=2) @ rows) / mass))
    mean_col = float(np.mean((images.sum(axis=1) @ cols) / mass))
    assert abs(mean_row - CENTRE) < 0.1
    assert abs(mean_col - CENTRE) < 0.1


@pytest.mark.parametrize("style", ["normal", "small", "top-left", "bottom-right", "slanted", "wide"])
@pytest.mark.parametrize("label", [0, 4, 7])
def test_centre_of_mass_lands_within_half_a_pixel_of_the_centre(label, style):
    image = to_mnist(render(_digit(label, style).strokes))
    row, col = centre_of_mass(image)
    assert abs(row - CENTRE) <= 0.5
    assert abs(col - CENTRE) <= 0.5


def test_centre_of_mass_known_answers():
    image = np.zeros((28, 28), dtype=np.float32)
    image[3, 5] = 1.0
    assert centre_of_mass(image) == (3.0, 5.0)
    image[7, 9] = 1.0
    assert centre_of_mass(image) == (5.0, 7.0)
    with pytest.raises(ValueError, match="no ink"):
        centre_of_mass(np.zeros((28, 28)))


@pytest.mark.parametrize(
    ("stroke_colour", "background"),
    [("black", None), ("white", None), ("white", "black"), ("black", "white"), ("#1e3a8a", "#fde68a")],
)
def test_polarity_is_mnist_s_whatever_the_colours(stroke_colour, background):
    strokes = _digit(3, "normal").strokes
    reference = to_mnist(render(strokes))
    image = to_mnist(render(strokes, stroke_colour=stroke_colour, background=background))
    assert image.dtype == np.float32
    assert image.shape == (MNIST_SIZE, MNIST_SIZE)
    # Background 0 around the digit, the strongest ink exactly 1.
    assert image[0].max() == 0.0 and image[:, 0].max() == 0.0 and image[-1].max() == 0.0
    assert image.max() == pytest.approx(1.0)
    assert image.min() == 0.0
    np.testing.assert_allclose(image, reference, atol=0.02)


@pytest.mark.parametrize(
    ("background", "ink", "expected"),
    [
        # Transparent canvas (the default): alpha is the ink, whatever the colour.
        ((0, 0, 0, 0), (255, 255, 255, 128), 128 / 255),
        # Opaque white paper with black ink, and black paper with white ink.
        ((255, 255, 255, 255), (0, 0, 0, 255), 1.0),
        ((0, 0, 0), (255, 255, 255), 1.0),
        # Mid-grey paper: black is as far from it as ink can be, so it is full-strength ink.
        ((128,), (0,), 1.0),
        ((128,), (64,), 64 / 128),
    ],
    ids=["alpha", "black on white", "white on black", "black on grey", "dark grey on grey"],
)
def test_ink_map_known_answers(background, ink, expected):
    # One ink pixel in the middle of a 5x5 image whose border is all background.
    image = np.full((5, 5, len(background)), background, dtype=np.uint8)
    image[2, 2] = ink
    result = ink_map(image if len(background) > 1 else image[:, :, 0])
    assert result.shape == (5, 5) and result.dtype == np.float32
    assert result[2, 2] == pytest.approx(expected, abs=1e-3)
    assert result[0, 0] == 0.0 and result[2, 1] == 0.0


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8),
        np.full((CANVAS_SIZE, CANVAS_SIZE, 4), 255, dtype=np.uint8),
        np.full((CANVAS_SIZE, CANVAS_SIZE, 3), 17, dtype=np.uint8),
        np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32),
    ],
    ids=["transparent", "opaque white", "opaque grey", "grayscale float"],
)
def test_blank_canvas_gives_none(blank):
    assert to_mnist(blank) is None
    assert naive_resize(blank) is None


def test_faint_or_single_pixel_noise_gives_none():
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    canvas[100, 100] = (0, 0, 0, 255)
    assert to_mnist(canvas) is None
    # A haze of faint specks everywhere, below the 10 % noise level.
    haze = np.zeros_like(canvas)
    haze[..., 3] = np.random.default_rng(0).integers(0, 20, size=(CANVAS_SIZE, CANVAS_SIZE))
    assert to_mnist(haze) is None
    # The same haze does not disturb a real digit.
    digit = render(_digit(5, "normal").strokes)
    noisy = digit.copy()
    noisy[..., 3] = np.maximum(digit[..., 3], haze[..., 3])
    np.testing.assert_allclose(to_mnist(noisy), to_mnist(digit), atol=1e-6)


def test_translated_drawing_gives_the_same_image():
    strokes = _digit(2, "top-left").strokes
    moved = translate(strokes, 60, 40)
    original = to_mnist(render(strokes))
    shifted = to_mnist(render(moved))
    np.testing.assert_allclose(shifted, original, atol=1e-5)
    # The naive resize keeps the position, which is the point of the comparison.
    assert not np.allclose(naive_resize(render(moved)), naive_resize(render(strokes)), atol=0.1)


def test_naive_resize_keeps_size_and_place():
    image = naive_resize(render(_digit(6, "top-left").strokes))
    assert image.shape == (MNIST_SIZE, MNIST_SIZE) and image.dtype == np.float32
    row, col = centre_of_mass(image)
    assert row < 10 and col < 10
    assert max(_ink_extent(image)) < 15


def test_single_dot_gives_a_centred_blob():
    image = to_mnist(render((((140.0, 140.0),),)))
    assert image is not None
    assert image.max() == pytest.approx(1.0)
    height, width = _ink_extent(image)
    assert abs(height - DIGIT_BOX) <= 1 and abs(width - DIGIT_BOX) <= 1
    row, col = centre_of_mass(image)
    assert abs(row - CENTRE) <= 0.5 and abs(col - CENTRE) <= 0.5


def test_canvas_full_of_ink_does_not_raise():
    # With no background left on the border there is nothing to tell ink from: it counts as blank.
    assert to_mnist(np.full((CANVAS_SIZE, CANVAS_SIZE, 4), (0, 0, 0, 255), dtype=np.uint8)) is None
    # Ink everywhere but a transparent rim: a full square.
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    canvas[2:-2, 2:-2, 3] = 255
    image = to_mnist(canvas)
    assert _ink_extent(image) == (DIGIT_BOX, DIGIT_BOX)
    assert image.sum() == pytest.approx(DIGIT_BOX * DIGIT_BOX)


def test_very_thick_and_very_thin_strokes_give_full_strength_ink():
    strokes = _digit(8, "normal").strokes
    thin = to_mnist(render(strokes, stroke_width=1))
    thick = to_mnist(render(strokes, stroke_width=60))
    for image in (thin, thick):
        assert image.max() == pytest.approx(1.0)
        assert abs(max(_ink_extent(image)) - DIGIT_BOX) <= 1
    # A 1-pixel pen shrunk tenfold is faint; the renormalisation still leaves a visible line.
    assert (thin > 0.3).sum() >= 30
    assert (thick > 0.5).sum() > (thin > 0.5).sum()


def test_tiny_scribble_is_enlarged_to_the_box():
    image = to_mnist(render((((140.0, 140.0), (146.0, 143.0)),), stroke_width=3))
    assert image is not None
    assert abs(max(_ink_extent(image)) - DIGIT_BOX) <= 1


def test_lopsided_drawing_pushed_off_the_field_does_not_raise():
    # A heavy blob at the bottom with a long hairline tail upwards: centring the blob, as MNIST would,
    # pushes the top of the tail off the field. What is left keeps the blob in the middle.
    blob = render((((140.0, 240.0),),), stroke_width=60)
    tail = render((((140.0, 240.0), (140.0, 12.0)),), stroke_width=2)
    image = to_mnist(np.maximum(blob, tail))
    assert image.shape == (MNIST_SIZE, MNIST_SIZE)
    assert image.max() == pytest.approx(1.0)
    assert image[0].max() > 0.0
    row, col = centre_of_mass(image)
    assert abs(row - CENTRE) <= 1.0 and abs(col - CENTRE) <= 0.5


@pytest.mark.parametrize(
    ("bad", "shape_text"),
    [
        (np.zeros((280,), dtype=np.uint8), "(280,)"),
        (np.zeros((280, 280, 2), dtype=np.uint8), "(280, 280, 2)"),
        (np.zeros((1, 280, 280, 4), dtype=np.uint8), "(1, 280, 280, 4)"),
        (np.zeros((0, 280, 4), dtype=np.uint8), "(0, 280, 4)"),
    ],
)
def test_wrong_shapes_raise_a_helpful_value_error(bad, shape_text):
    for function in (to_mnist, naive_resize, ink_map):
        with pytest.raises(ValueError, match=r"\(height, width, 4\)") as error:
            function(bad)
        assert shape_text in str(error.value)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.full((28, 28), "x"), "numeric"),
        (np.full((28, 28), np.nan, dtype=np.float32), "NaN"),
        (np.full((28, 28), -1.0), r"\[0, 1\] or \[0, 255\]"),
        (np.full((28, 28), 300, dtype=np.int32), r"\[0, 1\] or \[0, 255\]"),
        ([[0, 1], [2]], "numeric"),
    ],
)
def test_wrong_values_raise_a_helpful_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        to_mnist(bad)


def test_rgba_rgb_grayscale_and_float_inputs_agree():
    strokes = _digit(9, "normal").strokes
    transparent = render(strokes)
    opaque = render(strokes, background="white")
    rgb = np.ascontiguousarray(opaque[..., :3])
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    reference = to_mnist(transparent)
    variants = {
        "opaque RGBA": opaque,
        "RGB": rgb,
        "grayscale": grey,
        "float RGBA in [0, 1]": transparent.astype(np.float32) / 255,
        "float RGB in [0, 255]": rgb.astype(np.float64),
        "float grayscale in [0, 1]": grey.astype(np.float32) / 255,
        "int64 grayscale": grey.astype(np.int64),
    }
    for name, image in variants.items():
        np.testing.assert_allclose(to_mnist(image), reference, atol=0.02, err_msg=name)
    # A thresholded drawing has lost its soft edges, so it is compared with the same mask as 0/255 bytes.
    mask = grey < 128
    np.testing.assert_allclose(to_mnist(mask), to_mnist(mask.astype(np.uint8) * 255), atol=1e-6)


def test_read_only_input_is_accepted_and_left_untouched():
    # The canvas's image_data is np.asarray of a PIL image, which is read-only.
    canvas = render(_digit(0, "normal").strokes)
    before = canvas.copy()
    canvas.setflags(write=False)
    assert to_mnist(canvas) is not None
    np.testing.assert_array_equal(canvas, before)


def test_every_drawn_digit_preprocesses_to_an_mnist_image():
    for digit in DIGITS:
        canvas = render(digit.strokes)
        assert canvas.shape == (CANVAS_SIZE, CANVAS_SIZE, 4) and canvas.dtype == np.uint8
        image = to_mnist(canvas)
        assert image is not None, (digit.label, digit.style)
        assert image.shape == (MNIST_SIZE, MNIST_SIZE) and image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
        assert abs(max(_ink_extent(image)) - DIGIT_BOX) <= 1, (digit.label, digit.style)


def test_drawn_digits_cover_every_label_and_stay_where_a_person_can_draw():
    counts = Counter(digit.label for digit in DIGITS)
    assert sorted(counts) == list(range(10))
    assert min(counts.values()) >= 6 and len(DIGITS) >= 60
    assert len({(d.label, d.style) for d in DIGITS}) == len(DIGITS)
    for digit in DIGITS:
        for stroke in digit.strokes:
            assert len(stroke) >= 1
            for x, y in stroke:
                assert MARGIN <= x <= CANVAS_SIZE - MARGIN and MARGIN <= y <= CANVAS_SIZE - MARGIN, digit.style
                assert not (x > TOOLBAR_LEFT and y < TOOLBAR_BOTTOM), (digit.label, digit.style)



def _zigzag(rows: int) -> tuple[tuple[tuple[float, float], ...], ...]:
    """A scribble back and forth over the whole pad, `rows` passes from top to bottom."""
    points = []
    for index, y in enumerate(np.linspace(MARGIN, CANVAS_SIZE - MARGIN, rows)):
        xs = (MARGIN, CANVAS_SIZE - MARGIN) if index % 2 == 0 else (CANVAS_SIZE - MARGIN, MARGIN)
        points.extend((float(x), float(y)) for x in xs)
    return (tuple(points),)


@pytest.mark.parametrize("digit", DIGITS, ids=lambda digit: f"{digit.label}-{digit.style}")
def test_every_hand_made_digit_is_one_digit(digit):
    assert drawing_problem(render(digit.strokes)) is None


@pytest.mark.parametrize(("image", "problem"), [
    pytest.param(np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8), EMPTY, id="blank"),
    pytest.param(render((((140.0, 140.0),),)), DOT, id="a tap"),
    pytest.param(render((((100.0, 200.0), (104.0, 203.0)),)), DOT, id="a tiny dash"),
    pytest.param(render(_zigzag(14)), SCRIBBLE, id="zigzag over everything"),
    pytest.param(render(_zigzag(14), stroke_colour="#FFFFFF"), SCRIBBLE, id="white zigzag"),
])
def test_empty_dot_and_scribble_are_named(image, problem):
    assert drawing_problem(image) == problem
    assert "digit" in HINTS[problem]


def test_a_sparse_zigzag_is_still_looked_at():
    # Three passes over the pad ink about a fifth of it: odd, but not covered; the network may try.
    assert drawing_problem(render(_zigzag(3))) is None


def _png_of_zeros(side: int) -> bytes:
    """A PNG of side x side black pixels written row by row (compressed: 13,370 px square is under 1 MB)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + one grey byte a pixel
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_a_huge_picture_in_a_small_file_is_refused_before_decoding():
    import resource

    from mnist_models.drawing import MAX_DRAWING_BYTES, read_drawing

    bomb = _png_of_zeros(13_370)
    assert len(bomb) < MAX_DRAWING_BYTES, "small enough to pass the file-size check"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="13,370 x 13,370 pixels, larger than any drawing pad"):
        read_drawing(bomb)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100_000, f"decoding was attempted: the process grew by {grown_kib:,} KiB"
    assert read_drawing(_png_of_zeros(280)).shape == (280, 280)
    with pytest.raises(ValueError, match="more than the"):
        read_drawing(b"\x89PNG" + b"\0" * MAX_DRAWING_BYTES)
    with pytest.raises(ValueError, match="could not be read"):
        read_drawing(b"not a picture at all")
