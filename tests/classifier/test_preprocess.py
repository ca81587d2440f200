"""Decoding real and hostile image bytes into RGB frames and letterboxed tensors."""

from __future__ import annotations

import dataclasses
import importlib
import io
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from classifier.errors import InvalidImage
from classifier.preprocess import (
    DecodeLimits,
    decode_frames,
    frame_indices,
    make_thumbnail,
    preprocess,
    resized,
    to_rgb,
    to_tensor,
)
from tests import imagefactory as f
from tests.classifier.conftest import TEST_META

LIMITS = DecodeLimits()


def only_frame(data: bytes, limits: DecodeLimits = LIMITS) -> Image.Image:
    frames = decode_frames(data, limits)
    assert len(frames) == 1
    assert frames[0].mode == "RGB"
    return frames[0]


def pixel(img: Image.Image, xy: tuple[int, int] = (0, 0)) -> tuple[int, int, int]:
    value = img.getpixel(xy)
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


def near(actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- inputs that must be refused, each with a message a user can read --------------------------------


def test_empty_file_is_refused() -> None:
    with pytest.raises(InvalidImage, match="empty file"):
        decode_frames(b"", LIMITS)


def test_oversize_bytes_are_refused_before_decoding() -> None:
    data = f.noisy_photo_jpeg(seed=3)
    limits = DecodeLimits(max_bytes=len(data) - 1)
    with pytest.raises(InvalidImage, match=r"too large \(0\.0 MB; the limit is"):
        decode_frames(data, limits)


def test_megabyte_message_reads_well() -> None:
    limits = DecodeLimits(max_bytes=20 * 1024 * 1024)
    with pytest.raises(InvalidImage) as caught:
        decode_frames(b"\xff" * (21 * 1024 * 1024), limits)
    assert str(caught.value) == "That image is too large (21.0 MB; the limit is 20 MB)."


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(InvalidImage, match="not an image I can read"):
        decode_frames(f.text_file(), LIMITS)


def test_postscript_is_never_opened() -> None:
    # Pillow would hand EPS to Ghostscript; an upload must never reach another program.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(InvalidImage, match="not an image I can read"):
        decode_frames(eps, LIMITS)


def test_truncated_jpeg_is_damaged() -> None:
    with pytest.raises(InvalidImage, match="damaged or incomplete"):
        decode_frames(f.truncated_jpeg(), LIMITS)


def test_png_bomb_header_fails_fast_with_a_pixel_message() -> None:
    data = f.bomb_png(50000, 50000)
    assert len(data) < 1000
    start = time.perf_counter()
    with pytest.raises(InvalidImage) as caught:
        preprocess(data, TEST_META, LIMITS)
    assert time.perf_counter() - start < 1.0  # 7.5 GB of pixels would take far longer to allocate
    assert str(caught.value) == "That image has too many pixels (2500.0 megapixels; the limit is 40)."


def test_image_over_our_pixel_limit_but_under_pillows_is_refused_by_the_header() -> None:
    with pytest.raises(InvalidImage, match=r"too many pixels \(64\.0 megapixels; the limit is 40\)"):
        decode_frames(f.bomb_png(8000, 8000), LIMITS)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_in_pillows_warning_range_is_refused() -> None:
    with pytest.raises(InvalidImage, match=r"too many pixels \(100\.0 megapixels"):
        decode_frames(f.bomb_png(10000, 10000), LIMITS)


def test_small_pixel_limit_applies() -> None:
    with pytest.raises(InvalidImage, match="too many pixels"):
        decode_frames(f.jpeg_bytes(64, 48), DecodeLimits(max_pixels=64 * 48 - 1))
    assert only_frame(f.jpeg_bytes(64, 48), DecodeLimits(max_pixels=64 * 48)).size == (64, 48)


# --- every mode becomes the RGB a person would see ---------------------------------------------------


def test_cmyk_jpeg_becomes_rgb_red() -> None:
    assert near(pixel(only_frame(f.cmyk_jpeg())), (255, 0, 0), tolerance=20)


def test_16_bit_mid_grey_stays_mid_grey() -> None:
    assert Image.open(io.BytesIO(f.png16(value=32768))).mode.startswith("I")
    assert near(pixel(only_frame(f.png16(value=32768))), (128, 128, 128), tolerance=2)
    assert near(pixel(only_frame(f.png16(value=65535))), (255, 255, 255), tolerance=0)
    assert near(pixel(only_frame(f.png16(value=0))), (0, 0, 0), tolerance=0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.full((4, 4), 0.5, dtype=np.float32), 128),  # float in 0..1
        (np.full((4, 4), 200.0, dtype=np.float32), 200),  # float already in 0..255
        (np.full((4, 4), 200, dtype=np.int32), 200),  # 32-bit int holding 8-bit data
        (np.full((4, 4), 32768, dtype=np.int32), 128),  # 32-bit int holding 16-bit data
    ],
)
def test_wide_modes_scale_to_8_bit(values: np.ndarray, expected: int) -> None:
    img = Image.fromarray(values)
    assert img.mode in ("F", "I")
    assert near(pixel(to_rgb(img)), (expected,) * 3, tolerance=1)


def test_palette_transparency_is_composited_over_white() -> None:
    img = only_frame(f.palette_rgba_png(20, 10, color=f.RED))
    assert pixel(img, (2, 5)) == f.WHITE  # the transparent half
    assert pixel(img, (15, 5)) == f.RED


def test_rgba_and_la_transparency_become_white() -> None:
    assert pixel(only_frame(f.rgba_png(color=(*f.RED, 0)))) == f.WHITE
    assert pixel(only_frame(f.rgba_png(color=(*f.RED, 255)))) == f.RED
    assert near(pixel(only_frame(f.rgba_png(color=(0, 0, 0, 128)))), (127, 127, 127), tolerance=2)
    assert pixel(only_frame(f.la_png(color=(0, 0)))) == f.WHITE
    assert pixel(only_frame(f.la_png(color=(0, 255)))) == f.BLACK


def test_mode_1_becomes_rgb() -> None:
    assert pixel(only_frame(f.mode1_png(white=True))) == f.WHITE
    assert pixel(only_frame(f.mode1_png(white=False))) == f.BLACK


def test_exif_orientation_is_applied() -> None:
    img = only_frame(f.exif_rotated_jpeg(40, 20, orientation=6))
    assert img.size == (20, 40)


def test_heic_from_phones_decodes() -> None:
    img = only_frame(f.heic_bytes(color=f.RED))
    assert near(pixel(img, (16, 16)), f.RED, tolerance=25)


# --- animations -------------------------------------------------------------------------------------


def test_animated_gif_frames_are_all_represented() -> None:
    frames = decode_frames(f.animated_gif([f.RED, f.GREEN, f.BLUE]), LIMITS)
    colours = [pixel(frame, (16, 16)) for frame in frames]
    assert len(colours) == 3
    for got, want in zip(colours, [f.RED, f.GREEN, f.BLUE], strict=True):
        assert near(got, want)


def test_long_gif_samples_evenly_including_first_and_last() -> None:
    data = f.animated_gif(10)  # grey levels 0, 40, ..., 360 % 256
    frames = decode_frames(data, DecodeLimits(max_frames=4))
    levels = [pixel(frame, (5, 5))[0] for frame in frames]
    assert levels == [0, (3 * 40) % 256, (6 * 40) % 256, (9 * 40) % 256]


def test_max_frames_one_keeps_only_the_first() -> None:
    frames = decode_frames(f.animated_gif([f.GREEN, f.RED]), DecodeLimits(max_frames=1))
    assert len(frames) == 1
    assert near(pixel(frames[0]), f.GREEN)


def test_frame_sampling_respects_the_decode_budget() -> None:
    img = Image.open(io.BytesIO(f.animated_gif(20, size=(32, 32))))
    # budget: 4 frames x 2048 pixels / 1024 pixels per frame = the first 8 frames only
    assert frame_indices(img, DecodeLimits(max_pixels=2048, max_frames=4, max_total_pixels=8192)) == [
        0,
        2,
        5,
        7,
    ]
    assert frame_indices(img, DecodeLimits(max_frames=4)) == [0, 6, 13, 19]


def test_an_animation_with_a_damaged_tail_keeps_its_good_frames() -> None:
    data = f.noisy_animated_gif(3)
    assert len(decode_frames(data, LIMITS)) == 3
    assert len(decode_frames(data[:-200], LIMITS)) == 2  # the last frame is cut short
    with pytest.raises(InvalidImage, match="damaged"):
        decode_frames(data[:1000], LIMITS)  # not even the first frame is whole


def test_animated_webp_frames_are_sampled() -> None:
    frames = decode_frames(f.animated_webp([f.RED, f.BLUE]), LIMITS)
    assert [near(pixel(fr), c) for fr, c in zip(frames, [f.RED, f.BLUE], strict=True)] == [True, True]


def test_preprocess_stacks_one_tensor_per_sampled_frame() -> None:
    still = preprocess(f.jpeg_bytes(), TEST_META, LIMITS)
    animated = preprocess(f.animated_gif([f.RED, f.GREEN, f.BLUE]), TEST_META, LIMITS)
    assert still.shape == (1, 3, 64, 64)
    assert animated.shape == (3, 3, 64, 64)
    assert still.dtype == torch.float32


def _threads_started_by(job: Callable[[], object]) -> int:
    """How many threads of this process `job` leaves behind when run on a fresh thread (Linux)."""

    def counted() -> int:
        before = len(os.listdir("/proc/self/task"))
        job()
        return len(os.listdir("/proc/self/task")) - before

    with ThreadPoolExecutor(1) as fresh:  # the thread stays alive while its OpenMP team would
        return fresh.submit(counted).result()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
@pytest.mark.parametrize("vectorised", [True, False], ids=["torch-resize", "pillow-resize"])
def test_preprocessing_starts_no_torch_thread_team(vectorised: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch op in a preprocessing thread starts an OpenMP team there that spins against inference,
    unless it runs serially: torch's uint8 resize does (its float one does not)."""
    # the module, not the function of the same name that the classifier package exports
    monkeypatch.setattr(importlib.import_module("classifier.preprocess"), "VECTORISED_RESIZE", vectorised)
    meta = dataclasses.replace(TEST_META, input_size=224)  # big enough for torch to go parallel
    data = f.noisy_photo_jpeg(640, 480)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        started = _threads_started_by(lambda: preprocess(data, meta, LIMITS))
        # The probe works: a torch op does start a team (measured second: the team's threads leave late).
        assert _threads_started_by(lambda: torch.stack([torch.zeros(3, 224, 224)]) + 1) >= 1
    finally:
        torch.set_num_threads(previous)
    assert started <= 0  # below zero only if an earlier test's idle threads left meanwhile


@pytest.mark.parametrize(
    "size, target",
    [
        ((640, 480), (128, 96)),
        ((1280, 960), (224, 168)),
        ((150, 120), (224, 179)),
        ((30, 300), (6, 64)),
        ((5, 5), (5, 5)),
        ((1170, 2532), (30, 64)),
        ((7, 300), (1, 64)),
    ],
    ids=[
        "photo",
        "phone-photo",
        "upscale",
        "tall-thin",
        "same-size",
        "screenshot-shrunk-39x",
        "one-pixel-wide",
    ],
)
def test_torchs_resize_is_pillows_filter_within_one_level(
    size: tuple[int, int], target: tuple[int, int]
) -> None:
    img = only_frame(f.noisy_photo_jpeg(*size, seed=5))
    fast, pillow = resized(img, target, vectorised=True), resized(img, target, vectorised=False)
    assert fast.shape == pillow.shape == (target[1], target[0], 3) and fast.dtype == np.uint8
    if max(size[0] / target[0], size[1] / target[1]) >= 6:  # Pillow shrinks by whole factors first ...
        assert np.array_equal(fast, pillow)  # ... and is faster there: it does it either way
    else:  # Pillow filters every pixel: torch does the same within a level
        exact = np.asarray(img.resize(target, Image.Resampling.BILINEAR))
        assert np.array_equal(pillow, exact) and np.abs(fast.astype(int) - exact).max() <= 1


# --- letterboxing -----------------------------------------------------------------------------------


def test_letterbox_keeps_the_top_caption_and_pads_with_zeros() -> None:
    img = only_frame(f.photo_with_caption(200, 100, band=12))  # wide: content is 64 x 32, rows 16..47
    x = to_tensor(img, TEST_META)
    assert x.shape == (3, 64, 64)
    assert torch.count_nonzero(x[:, :16, :]) == 0 and torch.count_nonzero(x[:, 48:, :]) == 0
    assert x[:, 16, :].mean() < -1.5  # first content row: the black caption band is still there
    assert x[:, 30, :].mean() > 1.5  # the white picture below it


def test_letterbox_pads_tall_images_left_and_right() -> None:
    img = Image.open(io.BytesIO(f.photo_with_caption(100, 200, band=10))).convert("RGB")
    x = to_tensor(img, TEST_META)  # content is 32 x 64, columns 16..47
    assert torch.count_nonzero(x[:, :, :16]) == 0 and torch.count_nonzero(x[:, :, 48:]) == 0
    assert x[:, 0, 16:48].mean() < -1.5  # the caption band is the very first row
    assert x[:, 40, 16:48].mean() > 1.5


def test_normalisation_is_level_over_255_minus_mean_over_std_per_channel() -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # already 64 x 64
    x = to_tensor(Image.fromarray(pixels), TEST_META).numpy()
    mean = np.asarray(TEST_META.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(TEST_META.std, dtype=np.float32)[:, None, None]
    expected = (pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0) - mean) / std
    assert x.dtype == np.float32 and np.array_equal(x, expected)


def test_large_jpeg_uses_reduced_decoding_and_still_letterboxes() -> None:
    data = f.photo_with_caption(2400, 1200, band=150, fmt="JPEG")
    frames = decode_frames(data, LIMITS, draft_size=128)
    assert frames[0].size == (300, 150)  # 1/8: the smallest DCT scale whose longest side is >= 128
    assert decode_frames(data, LIMITS, draft_size=320)[0].size == (600, 300)  # 1/4: 1/8 would be 300
    assert decode_frames(f.jpeg_bytes(640, 480), LIMITS, draft_size=256)[0].size == (320, 240)
    x = preprocess(data, TEST_META, LIMITS)[0]
    assert x[:, 16, :].mean() < -1.5 and x[:, 30, :].mean() > 1.5


# --- thumbnails -------------------------------------------------------------------------------------


def test_thumbnail_shrinks_to_max_side_as_rgb_jpeg() -> None:
    data, width, height = make_thumbnail(f.cmyk_jpeg(1000, 500), max_side=128, limits=LIMITS)
    thumb = Image.open(io.BytesIO(data))
    assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", (128, 64))
    assert (width, height) == (128, 64)


def test_thumbnail_never_upscales_and_takes_the_first_frame() -> None:
    data, width, height = make_thumbnail(f.animated_gif([f.GREEN, f.RED]), max_side=512, limits=LIMITS)
    assert (width, height) == (32, 32)
    assert near(pixel(Image.open(io.BytesIO(data)).convert("RGB")), f.GREEN, tolerance=20)


def test_thumbnail_refuses_bad_input_like_classification() -> None:
    with pytest.raises(InvalidImage, match="too many pixels"):
        make_thumbnail(f.bomb_png(), max_side=128, limits=LIMITS)
