"""Training's networks: the SRGAN discriminators and the frozen perceptual backbones. The generator
(SRResNet) lives with its spec in ``srgan.archs.srresnet``; ``Generator`` and ``GeneratorConfig``
stay importable from here."""

from srgan.models.discriminator import Discriminator
from srgan.models.generator import Generator, GeneratorConfig

__all__ = ["Discriminator", "Generator", "GeneratorConfig"]
