"""dashboard/pictures.py: the colours of known values, and the PNGs inside the HTML decoded back to the pixels shown."""

from __future__ import annotations

import base64
import html
import io
import re

import numpy as np
import pytest
from PIL import Image

from dashboard import pictures

IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)" title="([^"]*)"')


def decoded(page: str) -> list[tuple[str, str, np.ndarray]]:
    """(alt, title, pixels) of every PNG in `page`."""
    return [(html.unescape(alt), html.unescape(title), np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))))
            for data, alt, title in IMAGE.findall(page)]


def test_colours_run_from_the_scale_s_first_to_its_last():
    grey = pictures.colour_image([[0.0, 0.5, 1.0, 2.0, -1.0]], 0.0, 1.0)
    assert grey[0].tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255], [255, 255, 255], [0, 0, 0]]
    # Diverging: the ends are the scale's ends, zero its white middle.
    ends = pictures.colour_image([[-2.0, 0.0, 2.0]], -2.0, 2.0, pictures.DIVERGING_SCALE)
    assert ends[0].tolist() == [[0xB2, 0x18, 0x2B], [0xF7, 0xF7, 0xF7], [0x21, 0x66, 0xAC]]
    with pytest.raises(ValueError, match="high > low"):
        pictures.colour_image([[1.0]], 1.0, 1.0)
    with pytest.raises(ValueError, match=r"\(height, width\)"):
        pictures.colour_image([1.0, 2.0], 0.0, 1.0)


def test_a_grey_picture_shows_the_image_upright_with_its_title():
    image = np.zeros((28, 28))
    image[3, 20] = 1.0  # one inked pixel near the top right
    page = pictures.picture_html(image, "What the network sees (28x28)")
    [(alt, title, pixels)] = decoded(page)
    assert alt == title == "What the network sees (28x28)"
    assert pixels.shape == (28, 28, 3)
    assert pixels[3, 20].tolist() == [255, 255, 255] and pixels[20, 3].tolist() == [0, 0, 0]
    assert "image-rendering:pixelated" in page


def test_a_grid_has_one_picture_and_caption_per_image_on_one_symmetric_scale():
    images = np.random.default_rng(0).normal(size=(7, 28, 28))
    titles = [f"true {digit}, predicted 9 (97%)<br>test image #{digit}" for digit in range(7)]
    page = pictures.picture_grid_html(images, titles, columns=3, title="Mistakes", diverging=True,
                                      colorbar_title="weight")
    found = decoded(page)
    assert [alt for alt, _, _ in found] == [f"true {digit}, predicted 9 (97%)" for digit in range(7)]
    assert found[0][1] == "true 0, predicted 9 (97%) · test image #0"
    assert "test image #6" in page and "repeat(3," in page and "Mistakes" in page
    # One range for every tile, symmetric: the largest |value| of all seven takes an end colour.
    extent = np.abs(images).max()
    tile, row, col = np.unravel_index(np.abs(images).argmax(), images.shape)
    end = [0x21, 0x66, 0xAC] if images[tile, row, col] > 0 else [0xB2, 0x18, 0x2B]
    assert found[tile][2][row, col].tolist() == end
    assert f"{-extent:.3g}" in page and f"{extent:.3g}" in page and "white is 0" in page
    with pytest.raises(ValueError, match="one title per image"):
        pictures.picture_grid_html(images, titles[:2])
    with pytest.raises(ValueError, match=r"\(n, height, width\)"):
        pictures.picture_grid_html(np.zeros((28, 28)), ["one"])


def test_titles_are_shown_as_text():
    page = pictures.picture_grid_html(np.zeros((1, 2, 2)), ['<img src=x onerror="alert(1)">'])
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_feature_maps_one_picture_per_channel_black_for_no_response():
    maps = np.random.default_rng(1).uniform(0, 2, size=(14, 14, 8))
    page = pictures.feature_maps_html(maps, "conv2: 8 feature maps of 14x14")
    found = decoded(page)
    assert [alt for alt, _, _ in found] == [f"#{index}" for index in range(1, 9)]
    assert "conv2: 8 feature maps of 14x14" in page
    # Grey from 0 (black: no response) to the largest output (white), the same for every map.
    expected = np.rint(maps[:, :, 2] / maps.max() * 255)
    assert np.abs(found[2][2][:, :, 0] - expected).max() <= 1
    many = pictures.feature_maps_html(np.ones((7, 7, 100)), "conv3", max_maps=48)
    assert len(decoded(many)) == 48 and "first 48 of 100" in many
    with pytest.raises(ValueError, match="channels"):
        pictures.feature_maps_html(np.ones((7, 7)), "flat")


def test_the_confusion_matrix_shows_counts_mistakes_shaded_and_empty_cells_blank():
    matrix = np.diag(np.full(10, 95))
    matrix[4, 9] = 5
    matrix[7, 2] = 1
    page = pictures.confusion_html(matrix)
    cells = re.findall(r'<td title="([^"]*)" style="[^"]*background:([^";]*)">([^<]*(?:<b>[^<]*</b>)?)</td>', page)
    assert len(cells) == 100
    by_place = {(index // 10, index % 10): cell for index, cell in enumerate(cells)}
    assert by_place[(4, 9)] == ("true 4, predicted 9: 5 images", "#D55E00", "5")  # the most mistakes: darkest
    assert by_place[(4, 8)][2] == ""  # empty cells stay blank
    assert by_place[(3, 3)] == ("true 3, predicted 3: 95 images (correct)", pictures.CORRECT_COLOUR, "<b>95</b>")
    assert by_place[(7, 2)][1] not in ("#D55E00", "#FFFFFF")  # one mistake: a lighter shade
    assert "Confusion matrix" in page and "rows: true digit" in page
    with pytest.raises(ValueError, match=r"\(10, 10\)"):
        pictures.confusion_html(np.zeros((3, 3)))
