"""Grad-CAM puts the heat where the decision comes from, mapped back onto the original image."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from classifier import InvalidImage
from classifier.explain import Explainer, GradCam, heatmap_for_image
from classifier.heatmap import jet, render_explanation
from tests.imaging.conftest import encode

GREY = (128, 128, 128)
BRIGHT = (250, 250, 250)


def patched(size: tuple[int, int], patch: tuple[int, int, int, int]) -> bytes:
    img = Image.new("RGB", size, GREY)
    img.paste(BRIGHT, patch)
    return encode(img)


def hottest(heat: np.ndarray, image_size: tuple[int, int], original: tuple[int, int]) -> tuple[float, float]:
    """(x, y) of the heat maximum, in the original image's pixels."""
    y, x = np.unravel_index(int(heat.argmax()), heat.shape)
    return x * original[0] / image_size[0], y * original[1] / image_size[1]


@pytest.mark.parametrize(
    ("size", "patch"),
    [
        ((128, 128), (0, 0, 64, 64)),  # top-left quadrant
        ((128, 128), (64, 64, 128, 128)),  # bottom-right quadrant
        ((256, 128), (128, 0, 256, 128)),  # wide image: right half (letterboxed top and bottom)
        ((120, 240), (0, 120, 120, 240)),  # tall image: bottom half (letterboxed left and right)
    ],
)
def test_heat_peaks_in_the_bright_region_that_makes_it_a_meme(
    explainer: Explainer, size: tuple[int, int], patch: tuple[int, int, int, int]
) -> None:
    explanation = explainer.explain(patched(size, patch))
    assert explanation.label == "meme"
    assert explanation.heatmap.shape == (explanation.image.height, explanation.image.width)
    assert explanation.image.width / explanation.image.height == pytest.approx(size[0] / size[1], rel=0.02)
    x, y = hottest(explanation.heatmap, explanation.image.size, size)
    left, top, right, bottom = patch
    assert left <= x < right and top <= y < bottom


def test_heat_is_stronger_inside_the_region_than_outside(explainer: Explainer) -> None:
    explanation = explainer.explain(patched((256, 128), (128, 0, 256, 128)))
    heat = explanation.heatmap
    half = heat.shape[1] // 2
    assert heat[:, half:].mean() > 2 * heat[:, :half].mean()


class ColourNet(nn.Module):
    """A tiny conv net: class 0 scores how red the image is, class 1 how blue (global averages)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.features.weight.zero_()
            self.features.weight[0, 0] = 1.0  # channel 0: red
            self.features.weight[1, 2] = 1.0  # channel 1: blue

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.features(x)).mean(dim=(2, 3))


def test_gradcam_on_a_named_layer_follows_the_class_evidence() -> None:
    net = ColourNet()
    gradcam = GradCam(net, torch.device("cpu"), layer=net.features)
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0, :, :3] = 1.0  # a red stripe on the left
    x[0, 2, :, 5:] = 1.0  # a blue stripe on the right
    red, blue = gradcam(x, class_index=0), gradcam(x, class_index=1)
    assert red.cam[:, :3].min() == 1.0 and red.cam[:, 3:].max() == 0.0
    assert blue.cam[:, 5:].min() == 1.0 and blue.cam[:, :5].max() == 0.0
    assert red.probabilities == blue.probabilities and red.class_index == 0


def test_gradcam_needs_a_layer_for_models_that_are_not_resnets() -> None:
    with pytest.raises(ValueError, match="name the layer"):
        GradCam(ColourNet(), torch.device("cpu"))


def test_heatmap_maps_back_through_the_letterbox() -> None:
    cam = np.zeros((2, 2), dtype=np.float32)
    cam[1, 1] = 1.0  # bottom-right cell of the square model input
    heat = heatmap_for_image(cam, 64, (200, 100))  # wide: content spans rows 16..47 of the square
    assert heat.shape == (100, 200)
    y, x = np.unravel_index(int(heat.argmax()), heat.shape)
    assert x >= 150 and y >= 75  # bottom-right of the content, not of the padded square
    assert heat[:, :50].max() < 0.2


def test_a_verdict_no_region_argues_for_gives_an_empty_map(explainer: Explainer) -> None:
    # Dark means "not a meme" to this model, but Grad-CAM only shows positive evidence: darkness is
    # the absence of activation, so every channel weight is negative and the ReLU leaves nothing.
    explanation = explainer.explain(encode(Image.new("RGB", (96, 96), (10, 10, 10))))
    assert explanation.label == "not_meme"
    assert float(explanation.heatmap.max()) == 0.0
    assert explanation.png().startswith(b"\x89PNG")


def test_explanation_picture_has_the_overlay_and_a_legend(explainer: Explainer) -> None:
    explanation = explainer.explain(patched((128, 128), (0, 0, 64, 64)))
    with Image.open(io.BytesIO(explanation.png())) as picture:
        assert picture.format == "PNG"
        picture = picture.convert("RGB")
    width, height = explanation.image.size
    assert picture.width == width and picture.height > height  # legend band underneath
    legend = np.asarray(picture)[height:]
    reds = (legend[..., 0] > 200) & (legend[..., 1] < 60) & (legend[..., 2] < 60)
    blues = (legend[..., 2] > 200) & (legend[..., 0] < 60) & (legend[..., 1] < 60)
    assert reds.any() and blues.any()
    red_x, blue_x = np.nonzero(reds)[1].mean(), np.nonzero(blues)[1].mean()
    assert red_x > blue_x  # the bar runs from weak (blue) to strong (red)
    hot = np.asarray(picture)[: height // 4, : width // 4].astype(int)
    assert (hot[..., 0] - hot[..., 2]).mean() > 0  # the bright quadrant is tinted red, not blue


def test_jet_runs_blue_to_red() -> None:
    ends = jet(np.array([[0.0, 1.0]]))
    assert ends[0, 0].tolist() == [0, 0, 128] and ends[0, 1].tolist() == [128, 0, 0]


def test_render_refuses_a_heatmap_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="does not match"):
        render_explanation(Image.new("RGB", (10, 10)), np.zeros((5, 5)), "meme", 0.9)


def test_small_images_are_enlarged_for_the_picture(explainer: Explainer) -> None:
    explanation = explainer.explain(patched((64, 32), (0, 0, 32, 32)))
    assert max(explanation.image.size) == 384


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n truncated"])
def test_unreadable_files_are_refused_like_the_classifier_refuses_them(
    explainer: Explainer, data: bytes
) -> None:
    with pytest.raises(InvalidImage):
        explainer.explain(data)
