"""Network definitions: the SRGAN generator and discriminator, and the frozen perceptual backbones."""

from srgan.models.discriminator import Discriminator
from srgan.models.generator import Generator, GeneratorConfig

__all__ = ["Discriminator", "Generator", "GeneratorConfig"]
