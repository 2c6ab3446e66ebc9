from __future__ import annotations

import pytest
import torch

from srgan.losses import (
    GeneratorBatch,
    GeneratorLoss,
    PerceptualLoss,
    WeightedTerm,
    artifact_loss,
    artifact_map,
    block_step_loss,
    chroma_loss,
    discriminator_loss,
    feature_matching_loss,
    flat_band_loss,
    flat_lattice_error_loss,
    fourier_amplitude_loss,
    generator_adversarial_loss,
    gradient_variance_loss,
    lattice_energy_loss,
    lattice_error_loss,
    lattice_loss,
    pixel_loss,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
)
from srgan.losses.settings import ShallowContentSettings
from srgan.metrics.lattice import phase_blocks
from srgan.models import Discriminator, Generator
from srgan.models.discriminator import UNetDiscriminator
from srgan.models.squeezenet import SqueezeNetFeatures
from srgan.models.vgg import VGG19Features
from srgan.training.build import generator_terms
from srgan.training.config import Config, ConfigError


def small_gan() -> tuple[Generator, Discriminator, torch.Tensor, torch.Tensor]:
    g = Generator(scale=2, num_blocks=2, channels=8).train()
    d = Discriminator(base_channels=8).train()
    lr = torch.rand(2, 3, 16, 16)
    hr = torch.rand(2, 3, 32, 32)
    hr[..., :16, :16] = 0.5  # a flat quarter, for the terms that look at smooth areas only
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


def criterion(
    weights: dict[str, float] | None = None, shallow: PerceptualLoss | None = None, **loss_options: object
) -> GeneratorLoss:
    """The trainer's generator loss for a config with these term weights and ``loss.*`` settings (content:
    pixel MSE; ``content_shallow``: ``shallow``)."""
    cfg = Config()
    cfg.model.scale = 2
    cfg.loss.perceptual = "mse"
    for key, value in loss_options.items():
        setattr(cfg.loss, key, value)
    for name, weight in (weights or {}).items():
        cfg.loss.terms[name].weight = weight
    return GeneratorLoss(generator_terms(cfg.loss, cfg.model.scale, None, shallow))


def test_total_generator_loss_combines_terms_with_paper_weight() -> None:
    g, d, lr, hr = small_gan()
    cfg = Config()
    content = PerceptualLoss(VGG19Features("VGG22", weights=None))
    sr = g(lr)
    terms = GeneratorLoss(generator_terms(cfg.loss, cfg.model.scale, content))(GeneratorBatch(sr, hr, d(sr)))
    assert set(terms) == {"total", "content", "adversarial"}, "the paper's loss has exactly two terms"
    torch.testing.assert_close(terms["total"], terms["content"] + 1e-3 * terms["adversarial"])
    terms["total"].backward()
    assert_every_param_has_gradient(g)


def test_a_shallow_layer_adds_its_own_weighted_content_term() -> None:
    g, d, lr, hr = small_gan()
    cfg = Config()
    cfg.loss.terms["content_shallow"] = ShallowContentSettings(weight=0.5, layer="VGG22")
    torch.manual_seed(0)
    content, shallow = (
        PerceptualLoss(VGG19Features("VGG54", weights=None)),
        PerceptualLoss(VGG19Features("VGG22", weights=None)),
    )
    sr = g(lr)
    terms = GeneratorLoss(generator_terms(cfg.loss, cfg.model.scale, content, shallow))(GeneratorBatch(sr, hr, d(sr)))
    torch.testing.assert_close(terms["content_shallow"], shallow(sr, hr))
    assert terms["content_shallow"] != terms["content"]
    expected = terms["content"] + 1e-3 * terms["adversarial"] + 0.5 * terms["content_shallow"]
    torch.testing.assert_close(terms["total"], expected)
    cfg.loss.perceptual = "mse"
    with pytest.raises(ConfigError, match="content_shallow needs a perceptual network"):
        generator_terms(cfg.loss, cfg.model.scale, None, None)


def test_srgan_mse_variant_uses_pixel_mse() -> None:
    g, d, lr, hr = small_gan()
    sr = g(lr)
    terms = criterion()(GeneratorBatch(sr, hr, d(sr)))
    torch.testing.assert_close(terms["content"], torch.nn.functional.mse_loss(sr, hr))


def test_a_term_counts_from_its_start_iteration_and_names_are_unique() -> None:
    sr, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    late = WeightedTerm("late", 2.0, lambda b: (b.sr - b.hr).abs().mean(), start=5)
    loss = GeneratorLoss([WeightedTerm("zero", 1.0, lambda b: b.sr.sum() * 0), late])
    batch = GeneratorBatch(sr, hr, torch.zeros(2))
    assert set(loss(batch, 4)) == {"total", "zero"}
    after = loss(batch, 5)
    torch.testing.assert_close(after["total"], 2.0 * (sr - hr).abs().mean())
    with pytest.raises(ValueError, match="unique"):
        GeneratorLoss([late, late])


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


def test_lattice_loss_sees_a_grid_and_not_texture_or_colour() -> None:
    torch.manual_seed(0)
    flat = torch.full((8, 3, 96, 96), 0.5)
    assert lattice_loss(flat, 4) < 1e-12 and lattice_loss(flat + 0.1, 4) < 1e-12  # colour is not a grid
    grid = torch.zeros(1, 1, 96, 96)
    grid[..., ::4, :] = 1 / 255  # one brighter row in every four: a period-4 stripe of one grey level
    texture = 0.01 * torch.randn(8, 3, 96, 96)  # detail with ~25x the grid's energy, different per image
    assert texture.pow(2).mean() > 20 * grid.pow(2).mean()
    assert lattice_loss(flat + texture + grid, 4) > 20 * lattice_loss(flat + texture, 4)


def test_lattice_error_loss_sees_per_image_grids_that_the_pooled_term_misses_and_not_hr_detail() -> None:
    torch.manual_seed(0)
    hr = 0.5 + 0.01 * torch.randn(8, 3, 96, 96)
    grid = torch.zeros(1, 1, 96, 96)
    grid[..., ::4, :] = 1 / 255
    sign = torch.tensor([1.0, -1.0] * 4).view(8, 1, 1, 1)  # the grid's sign follows each image's content
    sr = hr + sign * grid
    assert lattice_loss(sr, 4) < 2 * lattice_loss(hr, 4), "pooled over the batch, opposite grids cancel"
    assert lattice_error_loss(sr, hr, 4) > 1e-7
    # HR's own lattice-aligned detail is what SR should have: reproducing it costs nothing
    aligned = hr + grid
    assert lattice_error_loss(aligned, aligned, 4) == 0 and lattice_loss(aligned, 4) > 1e-7
    # the measure is the squared per-phase mean of the high-passed error
    stripe_mean = phase_blocks(grid, 4).mean(dim=(2, 4))
    torch.testing.assert_close(lattice_error_loss(sr, hr, 4), stripe_mean.pow(2).mean(), rtol=1e-4, atol=0)


def test_flat_lattice_error_loss_sees_a_mesh_in_smooth_areas_at_full_strength_where_the_patch_term_dilutes_it() -> None:
    torch.manual_seed(0)
    hr = torch.full((4, 3, 96, 96), 0.5)
    hr[..., :, 16:] += 0.03 * torch.randn(4, 3, 96, 80)  # a flat strip (1/6 of the patch), the rest textured
    sr = hr.clone()
    sr[..., :, 16:] += 0.01 * torch.randn(4, 3, 96, 80)  # SR's texture differs from HR's, as a GAN's does
    mesh = torch.zeros(1, 1, 96, 96)
    mesh[..., ::4, 0:16:4] = 1 / 255  # one brighter dot per 4 x 4 cell, in the flat strip only
    meshed = sr + mesh
    # texture errors are not its business (what leaks from the textured part through the 3 x 3 high-pass aside)
    assert flat_lattice_error_loss(sr, hr, 4) < 1e-2 * flat_lattice_error_loss(meshed, hr, 4)
    # on the flat cells it is exactly the squared per-phase mean of the mesh's high-pass there
    expected = phase_blocks(mesh[..., :16], 4).mean(dim=(2, 4)).pow(2).mean()
    torch.testing.assert_close(flat_lattice_error_loss(meshed, hr, 4), expected, rtol=1e-2, atol=0)
    # the whole-patch term averages the mesh with the textured cells: (1/6)^2 of its strength
    seen_by_patch_term = lattice_error_loss(meshed, hr, 4) - lattice_error_loss(sr, hr, 4)
    assert 0 < seen_by_patch_term < expected / 20
    assert flat_lattice_error_loss(meshed[..., 16:], hr[..., 16:], 4) == 0, "no flat cell: nothing to add"
    # pooled over the batch: a mesh whose sign follows each image's content is lattice_error_loss's business
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(4, 1, 1, 1)
    assert flat_lattice_error_loss(sr + sign * mesh, hr, 4) < 1e-2 * expected
    # a batch with 4 x 12 flat cells (of the 64 it takes to count fully) counts 48/64 of its mean
    few = (slice(None), slice(None), slice(0, 12), slice(0, 16))
    expected_few = (phase_blocks(mesh[few], 4).mean(dim=(2, 4)) * 48 / 64).pow(2).mean()
    torch.testing.assert_close(flat_lattice_error_loss(meshed[few], hr[few], 4), expected_few, rtol=1e-2, atol=0)


def _wave(fy: float, fx: float, size: int = 96) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return torch.cos(2 * torch.pi * (fy * y + fx * x)) / 255


def test_flat_band_loss_sees_a_hatching_off_the_lattice_and_not_grain() -> None:
    torch.manual_seed(0)
    hr = 0.5 + 0.2 / 255 * torch.randn(4, 3, 96, 96)  # a smooth sky with faint grain: every cell flat
    hatching, lattice = hr + _wave(0.25, 0.133), hr + _wave(0.0, 0.25)
    grain = hr + torch.randn(4, 3, 96, 96) / 255  # random detail as strong as the patterns
    # the hatching's phase drifts across the lattice: per-phase means do not see it, this term does
    assert flat_lattice_error_loss(hatching, hr, 4) < 1e-2 * flat_lattice_error_loss(lattice, hr, 4)
    assert flat_band_loss(hatching, hr, 4) > 0.3 * flat_band_loss(lattice, hr, 4) > 0
    # grain of the same strength adds nothing on average (the stack's expected mean square is taken out): what
    # remains is the estimate's noise
    assert abs(flat_band_loss(grain, hr, 4)) < 0.15 * flat_band_loss(hatching, hr, 4)
    assert flat_band_loss(hr, hr, 4) == 0
    textured = 0.5 + 0.05 * torch.randn(4, 3, 96, 96)  # no flat cell: nothing to add
    assert flat_band_loss(textured + _wave(0.25, 0.133), textured, 4) == 0


def test_descending_the_flat_band_loss_removes_the_hatching_and_adds_no_other_pattern() -> None:
    # A pilot whose grain correction carried gradient drew strong uncorrelated stripes to push the loss
    # below zero; descending it must instead take the hatching out and leave the rest alone.
    torch.manual_seed(0)
    hr = 0.5 + 0.2 / 255 * torch.randn(2, 3, 64, 64)
    hatching = _wave(0.25, 0.133, 64)
    start = flat_band_loss(hr + hatching, hr, 4)
    sr = (hr + hatching).requires_grad_(True)
    opt = torch.optim.SGD([sr], lr=300)
    for _ in range(30):
        opt.zero_grad()
        flat_band_loss(sr, hr, 4).backward()
        opt.step()
    end = flat_band_loss(sr.detach(), hr, 4)
    assert -1e-6 < end < 0.05 * start, "down to what grain gives, and not below it"
    assert (sr.detach() - hr).std() < 0.9 * hatching.std(), "the change from HR shrank: nothing drawn instead"


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
    rippled[..., 1::4, :] *= 0.5  # every fourth row carries half the detail: sign from content, strength from phase
    assert lattice_energy_loss(0.5 + texture, 4) < 1e-3
    assert lattice_energy_loss(0.5 + rippled, 4) > 30 * lattice_energy_loss(0.5 + texture, 4)
    assert lattice_loss(0.5 + rippled, 4) < 2 * lattice_loss(0.5 + texture, 4), "the signed term cannot see it"
    assert lattice_energy_loss(0.5 * (0.5 + rippled), 4) == pytest.approx(
        lattice_energy_loss(0.5 + rippled, 4).item(), rel=1e-4
    ), "relative to the mean energy: the same for faint and strong detail"


@pytest.mark.parametrize(
    ("option", "name", "reference"),
    [
        ("pixel_weight", "pixel", lambda b: torch.nn.functional.mse_loss(b.sr, b.hr)),
        ("lattice_weight", "lattice", lambda b: lattice_loss(b.sr, 2)),
        ("lattice_energy_weight", "lattice_energy", lambda b: lattice_energy_loss(b.sr, 2)),
        ("lattice_error_weight", "lattice_error", lambda b: lattice_error_loss(b.sr, b.hr, 2)),
        ("flat_lattice_error_weight", "flat_lattice_error", lambda b: flat_lattice_error_loss(b.sr, b.hr, 2)),
        ("flat_band_weight", "flat_band", lambda b: flat_band_loss(b.sr, b.hr, 2)),
        ("chroma_weight", "chroma", lambda b: chroma_loss(b.sr, b.hr)),
        (
            "feature_matching_weight",
            "feature_matching",
            lambda b: feature_matching_loss(b.fake_features, b.real_features),
        ),
        ("artifact_weight", "artifact", lambda b: artifact_loss(b.sr, b.hr)),
        (None, "fourier", lambda b: fourier_amplitude_loss(b.sr, b.hr)),
        (None, "gradient_variance", lambda b: gradient_variance_loss(b.sr, b.hr)),
    ],
)
def test_optional_term_is_weighted_into_the_total_and_reaches_the_generator(option, name, reference) -> None:  # type: ignore[no-untyped-def]
    g, d, lr, hr = small_gan()
    sr = g(lr)
    fake_logits, fake_features = d.forward_features(sr)
    with torch.no_grad():
        real_logits, real_features = d.forward_features(hr)
    batch = GeneratorBatch(sr, hr, fake_logits, real_logits, fake_features, real_features)
    terms = criterion({name: 0.5})(batch)
    torch.testing.assert_close(terms[name], reference(batch))
    torch.testing.assert_close(terms["total"], terms["content"] + 1e-3 * terms["adversarial"] + 0.5 * terms[name])
    terms[name].backward()
    assert_every_param_has_gradient(g)
    assert name not in criterion()(batch), "the paper's loss has no such term"


def high_pass_energy(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)).pow(2).mean()


def test_fourier_amplitude_loss_sees_lost_detail_and_not_where_it_lies() -> None:
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    blurred = torch.nn.functional.avg_pool2d(hr, 3, 1, 1, count_include_pad=False)
    shifted = hr.roll((5, 3), dims=(2, 3))  # the same detail, elsewhere: only the phases differ
    assert fourier_amplitude_loss(hr, hr) == 0
    assert fourier_amplitude_loss(shifted, hr) < 1e-5 < 0.3 < (shifted - hr).abs().mean()
    assert fourier_amplitude_loss(blurred, hr) > 0.1
    # Descending it from the blur puts detail back: the high-pass energy rises towards HR's.
    sr = blurred.clone().requires_grad_(True)
    fourier_amplitude_loss(sr, hr).backward()
    assert sr.grad is not None and torch.isfinite(sr.grad).all()
    stepped = (sr - 20 * sr.grad).detach()
    assert high_pass_energy(blurred) < high_pass_energy(stepped) < high_pass_energy(hr)
    assert fourier_amplitude_loss(stepped, hr) < fourier_amplitude_loss(blurred, hr)
    # A flat patch (every amplitude but the mean's zero) still has a finite gradient.
    flat = torch.full((1, 3, 16, 16), 0.5, requires_grad=True)
    fourier_amplitude_loss(flat, hr[:1, :, :16, :16]).backward()
    assert flat.grad is not None and torch.isfinite(flat.grad).all()


def test_gradient_variance_loss_sees_how_strong_detail_is_in_each_window_not_where_it_lies() -> None:
    torch.manual_seed(0)
    flat = torch.full((2, 3, 34, 34), 0.5)
    hr, redrawn, elsewhere = flat.clone(), flat.clone(), flat.clone()
    hr[..., 1:33, 1:17] += 0.2 * torch.randn(2, 1, 32, 16)  # grain in the left windows, the right ones flat
    redrawn[..., 1:33, 1:17] += 0.2 * torch.randn(2, 1, 32, 16)  # other grain of the same strength
    elsewhere[..., 1:33, 17:33] += 0.2 * torch.randn(2, 1, 32, 16)  # grain in the right windows
    assert gradient_variance_loss(hr, hr) == 0
    assert (redrawn - hr).abs().mean() > 0.05, "a pixel loss sees every grain as wrong"
    assert gradient_variance_loss(redrawn, hr) < 0.2 * gradient_variance_loss(flat, hr)
    assert gradient_variance_loss(elsewhere, hr) > 1.5 * gradient_variance_loss(flat, hr)  # wrong twice over
    colour = flat.clone()
    colour[:, 0, :, :17] += 0.1  # colour alone, no luma detail inside a window: nothing to see but the edge
    assert gradient_variance_loss(colour, flat) < 0.1 * gradient_variance_loss(flat, hr)
    # A step of its gradient from a blur puts strength back where HR has detail, and none in the flat windows.
    blurred = torch.nn.functional.avg_pool2d(hr, 5, 1, 2, count_include_pad=False)
    sr = blurred.clone().requires_grad_(True)
    gradient_variance_loss(sr, hr).backward()
    assert sr.grad is not None and torch.isfinite(sr.grad).all()
    stepped = (sr - 0.5 * sr.grad).detach()
    grain, smooth = (slice(4, 30), slice(4, 14)), (slice(4, 30), slice(27, 34))  # windows 8 px from the grain
    assert high_pass_energy(stepped[..., grain[0], grain[1]]) > high_pass_energy(blurred[..., grain[0], grain[1]])
    assert torch.equal(stepped[..., smooth[0], smooth[1]], blurred[..., smooth[0], smooth[1]])
    assert gradient_variance_loss(stepped, hr) < gradient_variance_loss(blurred, hr)


def test_relativistic_losses_compare_with_the_other_side_average() -> None:
    real, fake = torch.full((4,), 3.0), torch.full((4,), -3.0)
    # D is right when real sits above the average fake and fake below the average real
    assert relativistic_discriminator_loss(real, fake) < 0.01 < relativistic_discriminator_loss(fake, real)
    assert relativistic_generator_loss(real, fake) > 5 > 0.01 > relativistic_generator_loss(fake, real)
    # shifting every logit by the same amount changes nothing: only the difference counts
    torch.testing.assert_close(
        relativistic_discriminator_loss(real + 7, fake + 7), relativistic_discriminator_loss(real, fake)
    )
    assert set(
        criterion(adversarial="ragan")(GeneratorBatch(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), fake, real))
    ) >= {"adversarial"}


def test_artifact_map_flags_erratic_error_not_smooth_error() -> None:
    torch.manual_seed(0)
    hr = torch.full((1, 3, 32, 32), 0.5)
    smooth = hr + torch.linspace(0, 0.1, 32).view(1, 1, 1, 32)  # SR off by a gentle ramp
    speckled = hr.clone()
    speckled[..., ::2, ::2] += 0.1  # the same order of error, but erratic: an artifact
    assert artifact_map(speckled, hr).mean() > 20 * artifact_map(smooth, hr).mean()
    # with the EMA's output even further from HR, the pixel's error is not a fresh artifact
    assert artifact_map(speckled, hr, sr_ema=speckled + 0.2).sum() == 0
    assert artifact_map(speckled, hr, sr_ema=hr).sum() > 0


def test_unet_discriminator_judges_every_pixel_and_returns_features() -> None:
    d = UNetDiscriminator(base_channels=8)
    logits, features = d.forward_features(torch.rand(2, 3, 32, 24))
    assert logits.shape == (2, 1, 32, 24) and len(features) == 7
    logits.mean().backward()
    assert_every_param_has_gradient(d)
    with pytest.raises(ValueError, match="divisible by 8"):
        d(torch.rand(1, 3, 20, 20))


@pytest.mark.parametrize(("spectral", "batch_norm"), [(True, False), (True, True), (False, True)])
def test_vgg_discriminator_options(spectral: bool, batch_norm: bool) -> None:
    d = Discriminator(base_channels=8, spectral=spectral, batch_norm=batch_norm)
    names = [n for n, _ in d.named_parameters()]
    assert any(n.endswith("weight_orig") for n in names) == spectral
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == batch_norm
    logits, features = d.forward_features(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2,) and len(features) == 8


def test_block_step_loss_sees_excess_steps_on_the_jpeg_block_boundaries_only() -> None:
    ramp = torch.linspace(0.2, 0.6, 96).expand(2, 3, 96, 96).clone()
    hr = ramp + 0.01 * torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    origin = torch.zeros(2, 2, dtype=torch.long)  # both samples' grids start at the patch's origin
    assert block_step_loss(hr, hr, origin, 4) == 0

    def with_step_at(column: int) -> torch.Tensor:
        sr = hr.clone()
        sr[..., column:] += 0.1  # a step between pixel column - 1 and column
        return sr

    on_boundary, off_boundary = with_step_at(32), with_step_at(16)  # 32 = 8 LR pixels x 4; 16 is the same phase
    assert block_step_loss(on_boundary, hr, origin, 4) > 0.03  # 0.1 on one of the two boundary columns, less noise
    assert block_step_loss(off_boundary, hr, origin, 4) < 0  # the excess lies elsewhere: nothing to push down
    # the gradient reaches only the pixels on either side of a block boundary (rows or columns 31/32, 63/64)
    sr = on_boundary.clone().requires_grad_(True)
    block_step_loss(sr, hr, origin, 4).backward()
    assert sr.grad is not None
    near = torch.zeros(96, dtype=torch.bool)
    near[[31, 32, 63, 64]] = True
    reached = sr.grad.abs().sum(dim=(0, 1)) > 0
    assert not (reached & ~(near[:, None] | near[None, :])).any()
    assert reached[:, 31].any() and reached[:, 32].any()


def test_block_step_loss_follows_each_samples_grid() -> None:
    hr = torch.linspace(0.2, 0.6, 96).expand(2, 3, 96, 96).clone()
    sr = hr.clone()
    sr[..., 40:] += 0.1  # a step between columns 39 and 40: LR pixel 10, a boundary only for a grid from column 2
    shifted = torch.tensor([[0, 2], [0, 2]])
    assert block_step_loss(sr, hr, shifted, 4) > 0.03
    assert block_step_loss(sr, hr, torch.zeros(2, 2, dtype=torch.long), 4) < 0
    # a sample without a grid (-1) is left out: the batch scores as its other sample alone
    mixed = torch.tensor([[0, 2], [-1, -1]])
    assert torch.isclose(block_step_loss(sr, hr, mixed, 4), block_step_loss(sr[:1], hr[:1], shifted[:1], 4))
    assert block_step_loss(sr, hr, torch.full((2, 2), -1), 4) == 0


def test_block_step_loss_with_smooth_levels_counts_only_steps_in_hrs_smooth_areas() -> None:
    hr = torch.linspace(0.2, 0.6, 96).expand(2, 3, 96, 96).clone()
    hr[..., :48, :] += 0.1 * torch.randn(2, 3, 48, 96, generator=torch.Generator().manual_seed(0))  # textured top
    origin = torch.zeros(2, 2, dtype=torch.long)

    def with_boundary_step(rows: slice) -> torch.Tensor:
        sr = hr.clone()
        sr[..., rows, 32:] += 0.1  # a step across the block boundary between columns 31 and 32
        return sr

    in_texture, in_smooth = with_boundary_step(slice(0, 48)), with_boundary_step(slice(48, 96))
    assert block_step_loss(in_texture, hr, origin, 4) > 0.01  # every step counts by default
    assert block_step_loss(in_texture, hr, origin, 4, smooth_levels=5) == 0
    assert block_step_loss(in_smooth, hr, origin, 4, smooth_levels=5) > 0.03
    # the gradient stays out of the textured rows
    sr = with_boundary_step(slice(0, 96)).requires_grad_(True)
    block_step_loss(sr, hr, origin, 4, smooth_levels=5).backward()
    assert sr.grad is not None
    reached = sr.grad.abs().sum(dim=(0, 1, 3)) > 0
    assert not reached[:48].any() and reached[48:].any()


def test_every_term_is_placed_in_the_stages_it_works_in() -> None:
    """A new term must say whether stage srresnet can add it (it looks at SR and HR alone) or it needs stage
    srgan's discriminator, EMA generator or JPEG grid; content, adversarial and pixel are the stages' own."""
    from srgan.losses.registry import BUILDERS
    from srgan.losses.settings import STAGE_SRGAN_ONLY, TERMS, WITHOUT_DISCRIMINATOR

    own = {"content", "adversarial", "pixel"}
    assert not set(WITHOUT_DISCRIMINATOR) & set(STAGE_SRGAN_ONLY)
    assert set(TERMS) == set(BUILDERS) == own | set(WITHOUT_DISCRIMINATOR) | set(STAGE_SRGAN_ONLY)
    sr, hr = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    shallow = PerceptualLoss(VGG19Features("VGG22", weights=None))
    for name in WITHOUT_DISCRIMINATOR:  # each really works from SR and HR alone
        term = next(t for t in criterion({name: 1.0}, shallow).terms if t.name == name)
        assert torch.isfinite(term.function(GeneratorBatch(sr, hr))), name
