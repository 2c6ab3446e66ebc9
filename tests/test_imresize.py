from __future__ import annotations

import math

import pytest
import torch

from srgan.data.imresize import cubic, imresize, resize_matrix


def matlab_reference_row(in_len: int, scale: float, u: int) -> dict[int, float]:
    """MATLAB's contributions() for output pixel u (1-based), written out literally with
    Python floats: kernel, antialias widening, normalisation and symmetric index mirroring."""

    def cubic_scalar(t: float) -> float:
        a = abs(t)
        if a <= 1:
            return 1.5 * a**3 - 2.5 * a**2 + 1
        if a <= 2:
            return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
        return 0.0

    shrink = scale < 1
    width = 4 / scale if shrink else 4
    x = u / scale + 0.5 * (1 - 1 / scale)
    left = math.floor(x - width / 2)
    taps = [left + k for k in range(math.ceil(width) + 2)]
    w = [scale * cubic_scalar(scale * (x - j)) if shrink else cubic_scalar(x - j) for j in taps]
    total = sum(w)
    aux = list(range(1, in_len + 1)) + list(range(in_len, 0, -1))
    row: dict[int, float] = {}
    for j, wj in zip(taps, w, strict=True):
        src = aux[(j - 1) % (2 * in_len)] - 1
        row[src] = row.get(src, 0.0) + wj / total
    return row


def test_cubic_kernel_known_values() -> None:
    t = torch.tensor([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5], dtype=torch.float64)
    expected = [1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0, 0.0]
    torch.testing.assert_close(cubic(t), torch.tensor(expected, dtype=torch.float64))


def test_x2_upscale_interior_weights_are_the_known_bicubic_taps() -> None:
    m = resize_matrix(10, 20, 2.0)
    # output pixel 10 (1-based) sits at input coordinate 5.25: taps 4, 5, 6, 7 at distances 1.25, 0.25, 0.75, 1.75
    torch.testing.assert_close(
        m[9, 3:7], torch.tensor([-0.0703125, 0.8671875, 0.2265625, -0.0234375], dtype=torch.float64)
    )
    assert m[9].abs().sum() == pytest.approx(1.0 + 2 * (0.0703125 + 0.0234375))


@pytest.mark.parametrize(("in_len", "scale"), [(17, 0.25), (12, 1 / 3), (9, 0.5), (7, 2.0), (5, 4.0), (31, 0.25)])
def test_matrix_matches_a_literal_transcription_of_matlab(in_len: int, scale: float) -> None:
    out_len = math.ceil(in_len * scale - 1e-9)
    m = resize_matrix(in_len, out_len, scale)
    for u in range(1, out_len + 1):
        expected = torch.zeros(in_len, dtype=torch.float64)
        for j, w in matlab_reference_row(in_len, scale, u).items():
            expected[j] = w
        torch.testing.assert_close(m[u - 1], expected, atol=1e-12, rtol=0)


def test_constant_images_stay_constant() -> None:
    x = torch.full((2, 3, 23, 18), 0.37, dtype=torch.float64)
    for s in (0.25, 1 / 3, 0.5, 2.0, 3.0, 4.0):
        torch.testing.assert_close(imresize(x, s), torch.full_like(imresize(x, s), 0.37))


def test_scale_one_is_identity() -> None:
    x = torch.rand(1, 3, 13, 11, dtype=torch.float64)
    torch.testing.assert_close(imresize(x, 1.0), x)


def test_output_sizes_follow_matlab_ceil() -> None:
    x = torch.rand(3, 481, 321)
    assert imresize(x, 0.25).shape == (3, 121, 81)
    assert imresize(x, 1 / 3).shape == (3, 161, 107)
    assert imresize(x, size=(50, 40)).shape == (3, 50, 40)


def test_batched_equals_per_image_and_dtype_device_follow_input() -> None:
    x = torch.rand(4, 3, 20, 24)
    batched = imresize(x, 0.5)
    assert batched.dtype == torch.float32
    for i in range(4):
        torch.testing.assert_close(batched[i], imresize(x[i], 0.5))


def test_linear_ramp_is_reproduced_in_the_interior() -> None:
    """Cubic convolution reproduces linear functions exactly (away from the mirrored border)."""
    ramp = torch.arange(40, dtype=torch.float64).repeat(5, 1)
    up = imresize(ramp, size=(5, 80))
    x = (torch.arange(1, 81, dtype=torch.float64) / 2 + 0.25) - 1  # 0-based source coordinate
    torch.testing.assert_close(up[2, 6:-6], x[6:-6])


def test_antialiasing_suppresses_high_frequency() -> None:
    stripes = (torch.arange(96) % 3 == 0).double().repeat(8, 1)  # period-3 stripes alias at 1/4
    aliased = imresize(stripes, 0.25, antialias=False)[:, 3:-3].std()
    filtered = imresize(stripes, 0.25)[:, 3:-3].std()
    assert aliased > 0.1
    assert filtered < 0.1 * aliased


def test_rejects_integer_tensors() -> None:
    with pytest.raises(TypeError):
        imresize(torch.zeros(4, 4, dtype=torch.uint8), 0.5)
