from __future__ import annotations

import pytest
import torch

from srgan.archs.srresnet import receptive_radius
from srgan.models import Discriminator, Generator


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_paper_generator_has_exactly_the_paper_parameter_count() -> None:
    assert n_params(Generator()) == 1_550_659


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("size", [(17, 23), (24, 24)])
def test_generator_output_shape(scale: int, size: tuple[int, int]) -> None:
    g = Generator(scale=scale, num_blocks=2, channels=16).eval()
    out = g(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, size[0] * scale, size[1] * scale)


@pytest.mark.parametrize("scale", [1, 3, 16])
def test_generator_rejects_unsupported_scales(scale: int) -> None:
    with pytest.raises(ValueError, match="scale must be one of"):
        Generator(scale=scale)


def test_value_range_contract_identity_is_representable() -> None:
    """Input and output share the [0, 1] range: with the residual trunk and upsampler
    zeroed and the tail made an average of the head, G is a nearest-neighbour upscale
    of its input, which only holds if no affine range change (e.g. tanh into [-1, 1]) sits
    between them."""
    g = Generator(scale=2, num_blocks=1, channels=4).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
        head_conv = g.head[0]
        for c in range(3):
            head_conv.weight[c, c, 4, 4] = 1.0
        g.head[1].weight.fill_(1.0)  # PReLU slope 1 = identity
        up = g.upsample[0]
        for c in range(3):
            for k in range(4):
                up.conv.weight[c * 4 + k, c, 1, 1] = 1.0
        up.act.weight.fill_(1.0)
        for c in range(3):
            g.tail.weight[c, c, 4, 4] = 1.0
    x = torch.rand(1, 3, 8, 8)
    y = g(x)
    assert torch.allclose(y, torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"), atol=1e-6)


def test_eval_mode_is_deterministic_and_batch_independent() -> None:
    g = Generator(scale=4, num_blocks=2, channels=16)
    g.train()
    g(torch.rand(4, 3, 16, 16))  # move BN running stats away from their init
    g.eval()
    a, b = torch.rand(1, 3, 16, 16), torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        alone = g(a)
        batched = g(torch.cat([a, b]))[:1]
        again = g(a)
    assert torch.equal(alone, again)
    torch.testing.assert_close(alone, batched, atol=1e-5, rtol=1e-5)


def test_train_mode_bn_depends_on_batch() -> None:
    g = Generator(scale=2, num_blocks=1, channels=8).train()
    a = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(g(torch.cat([a, torch.rand(1, 3, 16, 16)]))[:1], g(torch.cat([a, a]))[:1])


@pytest.mark.parametrize("size", [(64, 64), (96, 96), (128, 128), (96, 40), (16, 16)])
def test_discriminator_accepts_any_patch_size(size: tuple[int, int]) -> None:
    d = Discriminator().eval()
    logits = d(torch.rand(3, 3, *size))
    assert logits.shape == (3,)
    assert logits.dtype == torch.float32


def test_discriminator_structure_matches_paper() -> None:
    d = Discriminator()
    convs = [m for m in d.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs] == [
        (64, 1),
        (64, 2),
        (128, 1),
        (128, 2),
        (256, 1),
        (256, 2),
        (512, 1),
        (512, 2),
    ]
    assert all(
        isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.2
        for m in d.features
        if isinstance(m, torch.nn.LeakyReLU)
    )
    dense = [m for m in d.classifier if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in dense] == [
        (512, 1024, (1, 1)),
        (1024, 1, (1, 1)),
    ]


def test_discriminator_rejects_tiny_inputs() -> None:
    with pytest.raises(ValueError, match="at least 16x16"):
        Discriminator()(torch.rand(1, 3, 8, 8))


def test_receptive_radius_bounds_influence() -> None:
    """Changing an LR pixel farther than the radius away must not change an output pixel."""
    g = Generator(scale=2, num_blocks=2, channels=8).eval()
    r = receptive_radius(g.config)
    x = torch.rand(1, 3, 40, 40)
    y0 = g(x)
    x2 = x.clone()
    x2[..., :, 39] += 1.0  # change the last LR column
    y1 = g(x2)
    diff = (y1 - y0).abs().amax(dim=(0, 1, 2))  # per HR column
    changed = torch.nonzero(diff > 0).flatten()
    assert changed.min().item() >= (39 - r) * 2
