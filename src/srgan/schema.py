"""The torch-free records of what a training network or a degradation is: ``DiscriminatorConfig`` and
``RealisticConfig`` (the realistic LR pipeline); the generator's is ``srgan.training.config.ModelConfig`` (``model.arch``
and its shape, made into that architecture's own config from ``srgan.archs``). The networks and
the pipeline (``srgan.models``, ``srgan.data.degradations``) are built from them; the training
configuration (``srgan.training.config``) holds them as its sections, and importing it must not load torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

D_ARCHS = ("vgg", "unet")


@dataclass
class RealisticConfig:
    """Parameters of ``realistic_lr``; the defaults follow the published high-order pipelines
    (Wang et al., Real-ESRGAN, 2021) scaled to 8-bit units. Ranges are (low, high), drawn uniformly."""

    kernel_sizes: tuple[int, int] = (7, 21)  # odd sizes in between
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    blur_prob2: float = 0.8  # the second round's blur
    # kernel kinds: iso, aniso Gaussian, generalized Gaussian (shape beta), plateau (shape beta)
    kernel_weights: tuple[float, float, float, float] = (0.45, 0.25, 0.15, 0.15)
    beta: tuple[float, float] = (0.5, 4.0)  # generalized Gaussian shape
    plateau_beta: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1  # a sinc (ringing) kernel instead of a blur, each round
    final_sinc_prob: float = 0.8
    resize_range: tuple[float, float] = (0.15, 1.5)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    noise_sigma: tuple[float, float] = (1.0, 30.0)  # Gaussian, in 8-bit levels
    noise_sigma2: tuple[float, float] = (1.0, 25.0)
    poisson_scale: tuple[float, float] = (0.05, 3.0)
    poisson_scale2: tuple[float, float] = (0.05, 2.5)
    gaussian_noise_prob: float = 0.5  # else Poisson
    gray_noise_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (30, 95)
    jpeg_quality2: tuple[int, int] = (30, 95)
    second_round_prob: float = 0.8
    # Training only (the eval preset keeps 0): this fraction of samples keeps the clean bicubic LR of
    # the benchmark protocol, so a model trained on damaged input stays faithful on clean input.
    clean_prob: float = 0.0
    # Training only: this fraction of samples is the clean bicubic LR saved once as a JPEG (quality drawn
    # from jpeg_quality): a downscaled photo from a camera or the web, the commonest real input.
    light_prob: float = 0.0
    # Training only: the last JPEG's block grid starts at a random offset rather than at the patch's origin,
    # so a term on the block edges (losses.block_step_loss, which is told where each sample's grid lies)
    # cannot be met by smoothing fixed lines counted from the border.
    jpeg_grid_shift: bool = False


@dataclass
class DiscriminatorConfig:
    """arch vgg: the paper's network (BatchNorm, no spectral norm); unet: Real-ESRGAN's U-Net with
    spectral normalisation and per-pixel logits. ``channels`` scales every width (64 = paper)."""

    arch: str = "vgg"
    channels: int = 64
    spectral_norm: bool = False  # on every conv (ESRGAN-style stabilisation; unet: always on)
    batch_norm: bool = True  # vgg only; the paper uses it, spectral-norm variants usually drop it

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
