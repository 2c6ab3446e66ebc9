"""SRResNet moved to ``srgan.archs.srresnet`` (its one home with its spec, fast and int8 forms);
these names stay importable from here for the training code and existing scripts."""

from srgan.archs.srresnet import GeneratorConfig, receptive_radius
from srgan.archs.srresnet.network import Generator, ResidualBlock, UpsampleBlock

__all__ = ["Generator", "GeneratorConfig", "ResidualBlock", "UpsampleBlock", "receptive_radius"]
