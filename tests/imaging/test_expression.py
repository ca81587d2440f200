"""The torch mini-Xception reproduces the original Keras model, checked against an independent NumPy pass."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from classifier.assets import EXPRESSION_WEIGHTS
from classifier.expression import EXPRESSIONS, ExpressionReader, MaxPoolSame, tf_same_padding
from tests.imaging import keras_numpy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reader() -> ExpressionReader:
    return ExpressionReader.load()


def test_committed_weights_reproduce_the_committed_keras_reference(reader: ExpressionReader) -> None:
    """Runs everywhere: the reference outputs were computed once by the NumPy pass on the hdf5."""
    reference = np.load(keras_numpy.REFERENCE)
    ours = reader.probabilities(reference["faces"])
    np.testing.assert_allclose(ours, reference["probabilities"], atol=1e-5)
    np.testing.assert_allclose(np.log(ours + 1e-12), np.log(reference["probabilities"] + 1e-12), atol=2e-3)


def test_reference_inputs_span_different_answers() -> None:
    reference = np.load(keras_numpy.REFERENCE)
    assert len(set(reference["probabilities"].argmax(axis=1).tolist())) >= 2


def test_torch_port_matches_a_fresh_numpy_pass_over_the_keras_file(
    keras_model: Path, reader: ExpressionReader
) -> None:
    layers, weights = keras_numpy.load_keras(keras_model)
    rng = np.random.default_rng(0)
    faces = np.concatenate(
        [keras_numpy.reference_inputs(), rng.integers(0, 256, (2, 64, 64), dtype=np.uint8)]
    )
    expected = keras_numpy.probabilities(layers, weights, faces)
    np.testing.assert_allclose(reader.probabilities(faces), expected, atol=1e-5)
    # The committed reference is what the Keras file really computes, not a copy of our own output.
    committed = np.load(keras_numpy.REFERENCE)
    np.testing.assert_allclose(expected[:3], committed["probabilities"], atol=1e-12)


def test_conversion_script_reproduces_the_committed_weights(keras_model: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("convert", REPO / "scripts" / "convert_emotion_model.py")
    assert spec is not None and spec.loader is not None
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    out = tmp_path / "converted.safetensors"
    assert convert.main([str(keras_model), "--out", str(out)]) == 0
    fresh, committed = safetensors.torch.load_file(out), safetensors.torch.load_file(EXPRESSION_WEIGHTS)
    assert fresh.keys() == committed.keys()
    for name, tensor in committed.items():
        assert torch.equal(fresh[name], tensor), name


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(60, 3, 2, (0, 1)), (15, 3, 2, (1, 1)), (8, 3, 2, (0, 1)), (64, 3, 1, (1, 1)), (15, 1, 2, (0, 0))],
)
def test_tensorflow_same_padding_puts_the_odd_pixel_after(
    size: int, kernel: int, stride: int, expected: tuple[int, int]
) -> None:
    assert tf_same_padding(size, kernel, stride) == expected


def test_max_pool_windows_start_at_the_first_pixel_like_tensorflow() -> None:
    x = torch.arange(36, dtype=torch.float32).view(1, 1, 6, 6)
    pooled = MaxPoolSame()(x)
    assert pooled.shape == (1, 1, 3, 3)
    assert pooled[0, 0, 0, 0] == x[0, 0, 2, 2]  # window rows/cols 0..2, not -1..1 as in torch's padding
    assert pooled[0, 0, 2, 2] == x[0, 0, 5, 5]  # last window pads one -inf row/col at the end


def test_the_real_face_photo_reads_as_happy(reader: ExpressionReader, face_photo: Image.Image) -> None:
    face = face_photo.crop((77, 42, 163, 128))  # the detector's box, padded by 10%
    expression = reader.read(face)
    assert expression.label == "happy" and expression.confidence > 0.8
    assert tuple(expression.probabilities) == EXPRESSIONS
    assert sum(expression.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
