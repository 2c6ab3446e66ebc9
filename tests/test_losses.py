from __future__ import annotations

import pytest
import torch

from srgan.losses import (
    PerceptualLoss,
    SRGANGeneratorLoss,
    chroma_loss,
    discriminator_loss,
    generator_adversarial_loss,
    lattice_energy_loss,
    lattice_loss,
    pixel_loss,
)
from srgan.models import Discriminator, Generator
from srgan.models.squeezenet import SqueezeNetFeatures
from srgan.models.vgg import VGG19Features


def small_gan() -> tuple[Generator, Discriminator, torch.Tensor, torch.Tensor]:
    g = Generator(scale=2, num_blocks=2, channels=8).train()
    d = Discriminator(base_channels=8).train()
    lr = torch.rand(2, 3, 16, 16)
    hr = torch.rand(2, 3, 32, 32)
    return g, d, lr, hr


def assert_every_param_has_gradient(module: torch.nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reached {name}"


@pytest.mark.parametrize("kind", ["mse", "l1"])
def test_pixel_loss_reaches_every_generator_parameter(kind: str) -> None:
    g, _, lr, hr = small_gan()
    pixel_loss(g(lr), hr, kind).backward()
    assert_every_param_has_gradient(g)


@pytest.mark.parametrize(
    "make_net",
    [lambda: VGG19Features("VGG54", weights=None), lambda: SqueezeNetFeatures("fire5", weights=None)],
)
def test_perceptual_loss_reaches_generator_but_not_the_feature_network(make_net) -> None:  # type: ignore[no-untyped-def]
    g, _, lr, hr = small_gan()
    net = make_net()
    loss = PerceptualLoss(net)(g(lr), hr)
    assert loss.requires_grad, "the perceptual loss was detached from the generator"
    loss.backward()
    assert_every_param_has_gradient(g)
    assert all(p.grad is None for p in net.parameters())


def test_adversarial_loss_reaches_generator_through_discriminator() -> None:
    g, d, lr, _ = small_gan()
    generator_adversarial_loss(d(g(lr))).backward()
    assert_every_param_has_gradient(g)


def test_total_generator_loss_combines_terms_with_paper_weight() -> None:
    g, d, lr, hr = small_gan()
    criterion = SRGANGeneratorLoss(PerceptualLoss(VGG19Features("VGG22", weights=None)))
    sr = g(lr)
    terms = criterion(sr, hr, d(sr))
    torch.testing.assert_close(terms.total, terms.content + 1e-3 * terms.adversarial)
    terms.total.backward()
    assert_every_param_has_gradient(g)


def test_srgan_mse_variant_uses_pixel_mse() -> None:
    g, d, lr, hr = small_gan()
    sr = g(lr)
    terms = SRGANGeneratorLoss(None)(sr, hr, d(sr))
    torch.testing.assert_close(terms.content, torch.nn.functional.mse_loss(sr, hr))


def test_discriminator_loss_with_detached_fake_trains_only_d() -> None:
    g, d, lr, hr = small_gan()
    discriminator_loss(d(hr), d(g(lr).detach())).backward()
    assert all(p.grad is None for p in g.parameters())
    assert_every_param_has_gradient(d)


def test_adversarial_losses_have_the_right_direction() -> None:
    confident_real = torch.full((4,), 10.0)
    confident_fake = torch.full((4,), -10.0)
    assert discriminator_loss(confident_real, confident_fake) < 1e-3
    assert discriminator_loss(confident_fake, confident_real) > 10
    assert generator_adversarial_loss(confident_real) < 1e-3  # G wins when D calls its output real
    assert generator_adversarial_loss(confident_fake) > 5


def test_feature_rescaling_scales_loss_quadratically() -> None:
    net = VGG19Features("VGG22", weights=None)
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(PerceptualLoss(net, 1.0)(a, b) / 12.75**2, PerceptualLoss(net)(a, b))


def test_optional_pixel_term_adds_weighted_pixel_loss_and_reaches_generator() -> None:
    g, d, lr, hr = small_gan()
    content = PerceptualLoss(VGG19Features("VGG22", weights=None))
    sr = g(lr)
    terms = SRGANGeneratorLoss(content, pixel_weight=0.5, pixel_kind="l1")(sr, hr, d(sr))
    assert terms.pixel is not None
    torch.testing.assert_close(terms.pixel, torch.nn.functional.l1_loss(sr, hr))
    torch.testing.assert_close(terms.total, terms.content + 1e-3 * terms.adversarial + 0.5 * terms.pixel)
    terms.pixel.backward()
    assert_every_param_has_gradient(g)
    assert SRGANGeneratorLoss(content)(sr, hr, d(sr)).pixel is None, "the paper's loss has no pixel term"


def test_lattice_loss_sees_a_grid_and_not_texture_or_colour() -> None:
    torch.manual_seed(0)
    flat = torch.full((8, 3, 96, 96), 0.5)
    assert lattice_loss(flat, 4) < 1e-12 and lattice_loss(flat + 0.1, 4) < 1e-12  # colour is not a grid
    grid = torch.zeros(1, 1, 96, 96)
    grid[..., ::4, :] = 1 / 255  # one brighter row in every four: a period-4 stripe of one grey level
    texture = 0.01 * torch.randn(8, 3, 96, 96)  # detail with ~25x the grid's energy, different per image
    assert texture.pow(2).mean() > 20 * grid.pow(2).mean()
    assert lattice_loss(flat + texture + grid, 4) > 20 * lattice_loss(flat + texture, 4)


def test_pixel_term_at_lr_resolution_anchors_colour_and_leaves_detail_free() -> None:
    hr = torch.rand(2, 3, 32, 32)
    detail = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(16, 16) * 0.05  # zero mean in every 4x4 cell
    criterion = SRGANGeneratorLoss(None, pixel_weight=1.0, pixel_kind="l1", pixel_downsample=4)
    logits = torch.zeros(2, 1)
    assert criterion(hr + detail, hr, logits).pixel < 1e-7  # type: ignore[operator]
    shifted = criterion(hr + 0.1, hr, logits).pixel  # a colour shift is seen at full strength
    torch.testing.assert_close(shifted, torch.tensor(0.1), atol=1e-6, rtol=0)
    sr = torch.rand(2, 3, 32, 32)
    expected = torch.nn.functional.l1_loss(
        torch.nn.functional.avg_pool2d(sr, 4), torch.nn.functional.avg_pool2d(hr, 4)
    )
    torch.testing.assert_close(criterion(sr, hr, logits).pixel, expected)


def test_chroma_loss_sees_false_colour_and_not_grey_detail() -> None:
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    grey_detail = 0.1 * torch.randn(2, 1, 32, 32)  # the same change in R, G and B: luma only
    assert chroma_loss(hr + grey_detail, hr) < 1e-6
    fringe = torch.zeros(2, 3, 32, 32)
    fringe[:, 0, ::2] = 0.1  # red on every other row, green on the rest: a false-colour fringe
    fringe[:, 1, 1::2] = 0.1
    # Cb/Cr of +0.1 red: (-0.0169, 0.05); of +0.1 green: (-0.0331, -0.0419); mean |.| over both planes
    expected = (0.016874 + 0.05 + 0.033126 + 0.041869) / 4
    torch.testing.assert_close(chroma_loss(hr + fringe, hr), torch.tensor(expected), atol=1e-5, rtol=0)


def test_lattice_energy_loss_sees_phase_dependent_detail_that_the_signed_term_misses() -> None:
    torch.manual_seed(0)
    texture = 0.05 * torch.randn(16, 3, 96, 96)  # detail of random sign, the same strength everywhere
    rippled = texture.clone()
    rippled[..., 1::4, :] *= (
        0.5  # every fourth row carries half the detail: sign from content, strength from phase
    )
    assert lattice_energy_loss(0.5 + texture, 4) < 1e-3
    assert lattice_energy_loss(0.5 + rippled, 4) > 30 * lattice_energy_loss(0.5 + texture, 4)
    assert lattice_loss(0.5 + rippled, 4) < 2 * lattice_loss(0.5 + texture, 4), (
        "the signed term cannot see it"
    )
    assert lattice_energy_loss(0.5 * (0.5 + rippled), 4) == pytest.approx(
        lattice_energy_loss(0.5 + rippled, 4).item(), rel=1e-4
    ), "relative to the mean energy: the same for faint and strong detail"


@pytest.mark.parametrize(
    ("option", "field", "reference"),
    [
        ("lattice_weight", "lattice", lambda sr, hr: lattice_loss(sr, 2)),
        ("lattice_energy_weight", "lattice_energy", lambda sr, hr: lattice_energy_loss(sr, 2)),
        ("chroma_weight", "chroma", chroma_loss),
    ],
)
def test_optional_term_is_weighted_into_the_total_and_reaches_the_generator(option, field, reference) -> None:  # type: ignore[no-untyped-def]
    g, d, lr, hr = small_gan()
    sr = g(lr)
    terms = SRGANGeneratorLoss(None, lattice_period=2, **{option: 0.5})(sr, hr, d(sr))
    term = getattr(terms, field)
    assert term is not None
    torch.testing.assert_close(term, reference(sr, hr))
    torch.testing.assert_close(terms.total, terms.content + 1e-3 * terms.adversarial + 0.5 * term)
    term.backward()
    assert_every_param_has_gradient(g)
    assert getattr(SRGANGeneratorLoss(None)(sr, hr, d(sr)), field) is None, (
        "the paper's loss has no such term"
    )
