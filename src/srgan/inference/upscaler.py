"""``Upscaler``: the Python API for upscaling images with an srgan generator or a community
ESRGAN / Real-ESRGAN network.

    from srgan import Upscaler
    up = Upscaler.from_pretrained("srgan-x4")          # or a .safetensors / .pth / checkpoint / .onnx file
    big = up.upscale(Image.open("photo.jpg"))           # PIL in, PIL out (numpy and torch too)

An Upscaler holds only read-only state after construction, so ``upscale`` may be called from
several threads at once.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srgan.imageio import ImageData, premultiply, unpremultiply
from srgan.inference.tiling import ProgressFunction, upscale_with_backoff
from srgan.modelfiles.spec import NetworkConfig, input_multiple
from srgan.models.compact import CompactConfig
from srgan.models.fast import RECONSTRUCT_HALO, FastGenerator
from srgan.models.generator import Generator, GeneratorConfig, receptive_radius
from srgan.models.quantized import QuantizedGenerator, Ranges, int8_available
from srgan.models.rrdb import RRDB_RECONSTRUCT_HALO, RRDB_TILE_CONTEXT, RRDBConfig, RRDBNet
from srgan.runtime import (
    INFERENCE_PRECISIONS,
    RuntimeChoiceError,
    autocast_dtype,
    place,
    precision_name,
    reuse_host_memory,
    select_device,
)

ImageLike = TypeVar("ImageLike")
# auto picks bf16 only if its output is this close to fp32's on a calibration image (PSNR, dB)
BF16_MIN_PSNR = 45.0
# int8 is refused for a model whose int8 output is further than this from fp32 on the same image
INT8_MIN_PSNR = 40.0
# The reconstruction (upsamplers and tail) runs in row strips whose 4x-channel tensors stay within this.
STRIP_BYTES = 256 << 20


def _calibration_image(size: int = 64) -> torch.Tensor:
    """A fixed natural-looking test image: smooth gradients, hard edges and fine texture."""
    g = torch.Generator().manual_seed(1234)
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = torch.stack([x, y, 1 - x * y])
    base[:, size // 4 : size // 2, size // 4 : 3 * size // 4] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)
    texture = torch.nn.functional.interpolate(
        torch.rand(1, 3, size // 4, size // 4, generator=g), size=size, mode="bilinear"
    )[0]
    return (0.6 * base + 0.4 * texture).clamp(0, 1)


def tile_context(config: NetworkConfig) -> int:
    """LR pixels of context a tile gets on each inner side: the exact receptive radius where it is
    small (SRResNet, Compact); for RRDBNet, whose formal radius (about 350 pixels) is far beyond
    what the trained network uses, the measured width that keeps tiles within 1/255 of one pass."""
    if isinstance(config, GeneratorConfig):
        return receptive_radius(config)
    if isinstance(config, CompactConfig):
        return config.receptive_radius()
    return RRDB_TILE_CONTEXT


def tile_bytes_per_px(config: NetworkConfig) -> int:
    """Peak fp32 activation bytes per LR pixel of a tile, rounded up from peak-RSS measurements around
    one upscale (docs/benchmarks.md)."""
    if isinstance(config, GeneratorConfig):
        # the trunk keeps about six 64-channel maps alive; the reconstruction runs in bounded strips
        return 4 * config.channels * 6
    if isinstance(config, RRDBConfig):
        # about ten feature maps in a dense block at the trunk's (unshuffled) resolution; the
        # upsamplers and HR convs run in bounded strips like SRResNet's reconstruction
        return 4 * config.features * max(10 // config.unshuffle**2, 1)
    # three feature maps in the trunk; the last conv's, the shuffled and the upsampled image
    return 4 * (3 * config.features + 3 * config.out_channels * config.scale**2)


class Upscaler:
    """Upscale images with a network (PyTorch) or an exported ONNX model (onnxruntime)."""

    def __init__(
        self,
        model: nn.Module | None,
        config: NetworkConfig,
        device: str = "auto",
        precision: str = "auto",
        tile: int | None = None,
        tile_context: int | None = None,
        onnx_session: Any = None,
        int8_ranges: Ranges | None = None,
        *,
        tile_overlap: int | None = None,  # deprecated name of tile_context
    ) -> None:
        tile_context = _renamed_tile_context(tile_context, tile_overlap)
        if precision not in INFERENCE_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(INFERENCE_PRECISIONS)}; got {precision!r}")
        self.config = config
        self.scale = config.scale
        self.device = select_device(device) if onnx_session is None else torch.device("cpu")
        autocast_dtype(precision, self.device)  # refuses fp16 on a CPU with one sentence
        if self.device.type == "cpu":
            reuse_host_memory()  # freed feature maps are reused instead of page-faulted in anew
        self.margin = _default_context(config) if tile_context is None else tile_context
        self._tile = tile
        self._onnx = onnx_session
        self._model: nn.Module | None = None
        self._int8 = precision == "int8"
        if model is not None:
            # srgan's generator runs in its fast form (BN folded, strip-wise reconstruction)
            net = FastGenerator(model) if isinstance(model, Generator) else model
            channels_last = self.device.type in ("cpu", "cuda")
            self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
            self._model = place(net, self.device, channels_last).eval()
        self.autocast_dtype = self._choose_precision(precision)
        self._auto_precision = precision == "auto"
        if self._int8:
            self._model = self._quantized(int8_ranges)
        self._lock = threading.Lock()

    # ---- construction ---------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "srgan-x4",
        device: str = "auto",
        precision: str = "auto",
        tile: int | None = None,
        tile_context: int | None = None,
        threads: int | None = None,
        strength: float = 1.0,
        blend_with: str | os.PathLike[str] | None = None,
        *,
        tile_overlap: int | None = None,  # deprecated name of tile_context
    ) -> Upscaler:
        """A bundled model name, a generator export (.safetensors), a training checkpoint, a plain
        generator state_dict, or an ONNX file (run with onnxruntime).

        ``strength`` < 1 blends the model's parameters towards its fidelity base (``blend_with``, by
        default the base its bundled card names): 0 is the base (srresnet-x4 for srgan-x4), 1 the model."""
        from srgan.modelfiles.loader import ModelLoadError, open_blended

        tile_context = _renamed_tile_context(tile_context, tile_overlap)
        if threads is not None:
            torch.set_num_threads(threads)
        opened = open_blended(name_or_path, strength, blend_with, threads=threads)
        if opened.session is not None:
            precision = "fp32" if precision == "auto" else precision
            return cls(None, opened.spec.config, "cpu", precision, tile, tile_context, opened.session)
        if opened.network is None:
            raise ModelLoadError(f"{opened.path} holds no network")
        return cls(opened.network, opened.spec.config, device, precision, tile, tile_context, None, opened.int8_ranges)

    def _choose_precision(self, precision: str) -> torch.dtype | None:
        if self._onnx is not None:
            if precision not in ("auto", "fp32"):
                raise RuntimeChoiceError("the ONNX backend runs in fp32")
            return None
        dtype = autocast_dtype(precision, self.device)
        # The inference-only refinement of ``auto``: bf16 only where it is visually identical to fp32.
        if precision == "auto" and dtype == torch.bfloat16 and self.bf16_psnr() < BF16_MIN_PSNR:
            return None
        return dtype

    def bf16_psnr(self) -> float:
        """PSNR (dB) between this model's bf16 and fp32 outputs on the calibration image."""
        x = _calibration_image()[None].to(self.device)
        return _psnr(self._forward(x, None), self._forward(x, torch.bfloat16))

    def _quantized(self, ranges: Ranges | None) -> QuantizedGenerator:
        """This generator's int8 form (``--precision int8``), checked against its fp32 output."""
        if not isinstance(self._model, FastGenerator):
            raise RuntimeChoiceError("int8 is implemented for srgan's SRResNet generators; use bf16 for this model")
        if ranges is None:
            raise RuntimeChoiceError(
                "this model file carries no int8 calibration; add one with srgan export --model MODEL "
                "--format safetensors --int8-calibration FOLDER_OF_PHOTOS -o FILE, then use FILE"
            )
        if not int8_available():
            raise RuntimeChoiceError("int8 needs oneDNN's int8 kernels, which this torch build lacks; use bf16")
        x = _calibration_image()[None]
        reference = self._forward(x, None)
        self._model = place(QuantizedGenerator(self._model, ranges), self.device, True)
        psnr = _psnr(reference, self._forward(x, self.autocast_dtype))
        if psnr < INT8_MIN_PSNR:
            raise RuntimeChoiceError(
                f"this model's int8 output is {psnr:.1f} dB from fp32 on the check image (int8 needs at least "
                f"{INT8_MIN_PSNR:g} dB); use bf16"
            )
        return self._model

    # ---- the forward pass -------------------------------------------------------------------------

    @property
    def precision(self) -> str:
        return "int8" if self._int8 else precision_name(self.autocast_dtype)

    def _forward(self, batch: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
        # Networks that pixel-unshuffle their input need sides that are multiples of the factor:
        # edge-pad, then crop the output back.
        h, w = batch.shape[-2:]
        m = input_multiple(self.config)
        pad_h, pad_w = -h % m, -w % m
        if pad_h or pad_w:
            batch = F.pad(batch, (0, pad_w, 0, pad_h), mode="replicate")
        if self._onnx is not None:
            (arr,) = self._onnx.run(None, {"lr": batch.cpu().numpy().astype(np.float32)})
            out = torch.from_numpy(arr)
        else:
            with (
                torch.inference_mode(),
                torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None),
            ):
                x = batch.to(self.device, non_blocking=True).contiguous(memory_format=self._memory_format)
                if isinstance(self._model, FastGenerator | QuantizedGenerator | RRDBNet):
                    out = self._reconstruct_in_strips(self._model, x)
                else:
                    assert self._model is not None
                    out = self._model(x).float().cpu()
        return out[..., : h * self.scale, : w * self.scale]

    def _reconstruct_in_strips(
        self, model: FastGenerator | QuantizedGenerator | RRDBNet, x: torch.Tensor
    ) -> torch.Tensor:
        """The trunk on the whole tile, then the memory-heavy reconstruction in row strips with
        enough halo to be exact."""
        s, halo = self._strip_geometry()
        features = model.features(x)
        n, _, h, w = features.shape
        rows = self._strip_rows(n * w)
        out = torch.empty(n, 3, h * s, w * s, dtype=torch.float32)
        for top in range(0, h, rows):
            bottom = min(top + rows, h)
            start, stop = max(top - halo, 0), min(bottom + halo, h)
            y = model.reconstruct(features[:, :, start:stop])
            out[:, :, top * s : bottom * s] = y[:, :, (top - start) * s : (bottom - start) * s].float().cpu()
        return out

    def _strip_rows(self, width: int) -> int:
        """LR rows per reconstruction strip, so the 4x-channel tensors stay within STRIP_BYTES."""
        per_row = width * self._reconstruct_bytes_per_px()
        return max(int(STRIP_BYTES // per_row), 8)

    def _strip_geometry(self) -> tuple[int, int]:
        """(output pixels per feature pixel, halo in feature rows) of the strip reconstruction."""
        if isinstance(self.config, RRDBConfig):
            return 2**self.config.upsamples, RRDB_RECONSTRUCT_HALO
        return self.scale, RECONSTRUCT_HALO

    def _reconstruct_bytes_per_px(self) -> int:
        """fp32 bytes per feature pixel of a reconstruction strip."""
        if isinstance(self.config, RRDBConfig):
            # two feature maps alive at the output resolution (the upsampled input of a conv and its output)
            return 4 * self.config.features * 3 * self._strip_geometry()[0] ** 2
        # the last upsampler's 4x-channel output and its PReLU copy at (scale/2)^2 pixels per LR pixel
        assert isinstance(self.config, GeneratorConfig)
        return 4 * self.config.channels * 4 * 2 * (self.scale // 2) ** 2

    def _dtype_for(self, bits: int) -> torch.dtype | None:
        # bf16 keeps ~8 significant bits: fine for 8-bit images, not for 16-bit ones.
        return None if bits > 8 and self._auto_precision else self.autocast_dtype

    def auto_tile(self) -> int:
        """The largest tile (LR pixels per side) whose trunk activations fit the memory budget: a
        quarter of free memory (at most 512 MiB) on the CPU, half of free GPU memory."""
        if self._tile:
            return self._tile
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            budget = 0.5 * free
        else:
            budget = min(available_memory() / 4, 512 << 20)
        side = int(math.sqrt(budget / tile_bytes_per_px(self.config))) // 8 * 8
        return max(side, 2 * self.margin + 32)

    def working_set_bytes(self) -> int:
        """Host memory the network itself uses while upscaling: the tile's activations (see
        auto_tile) and the reconstruction strips, whatever the image size."""
        return self.auto_tile() ** 2 * tile_bytes_per_px(self.config) * self._batch_size() + STRIP_BYTES

    def _batch_size(self) -> int:
        return 4 if self.device.type == "cuda" else 1  # a CPU gains nothing from batching big tiles

    # ---- public API -----------------------------------------------------------------------------

    def upscale_tensor(
        self,
        rgb: torch.Tensor,
        progress: ProgressFunction | None = None,
        on_retry: Callable[[int, int], None] | None = None,
        bits: int = 8,
    ) -> torch.Tensor:
        """(3, H, W) float32 in [0, 1] -> (3, s*H, s*W) float32 (not clamped). ``bits`` > 8 keeps
        fp32 when the precision was chosen automatically."""
        if rgb.dim() != 3 or rgb.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) tensor, got {tuple(rgb.shape)}")
        dtype = self._dtype_for(bits)
        return upscale_with_backoff(
            rgb.float().cpu(),
            lambda b: self._forward(b, dtype),
            self.scale,
            self.auto_tile(),
            self.margin,
            batch=self._batch_size(),
            progress=progress,
            on_retry=on_retry,
        )

    def upscale_data(self, data: ImageData, progress: ProgressFunction | None = None) -> ImageData:
        """Upscale an ImageData: colour premultiplied by alpha; alpha in a separate pass of the
        same model, so colour and alpha edges coincide when the colour is divided back."""
        out = self.upscale_tensor(premultiply(data), progress, bits=data.bits).clamp_(0, 1)
        alpha = None
        if data.alpha is not None:
            alpha = self.upscale_tensor(data.alpha.expand(3, -1, -1), bits=data.bits).mean(0, keepdim=True).clamp_(0, 1)
            out = unpremultiply(out, alpha)
        return data.scaled(out, alpha, self.scale, self.scale)

    def upscale(self, image: ImageLike, progress: ProgressFunction | None = None) -> ImageLike:
        """Upscale a PIL image, a numpy array (HWC or HW; uint8, uint16 or float in [0, 1]) or a
        torch tensor ((C, H, W) or (N, C, H, W) float in [0, 1]); returns the same kind."""
        if isinstance(image, torch.Tensor):
            return self._upscale_torch(image)  # type: ignore[return-value]
        if isinstance(image, np.ndarray):
            return self._upscale_numpy(image)  # type: ignore[return-value]
        from PIL import Image

        if isinstance(image, Image.Image):
            return self._upscale_pil(image, progress)  # type: ignore[return-value]
        raise TypeError(f"upscale takes a PIL image, a numpy array or a torch tensor, not {type(image).__name__}")

    def _upscale_torch(self, t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 4:
            if t.shape[0] == 0:
                raise ValueError(f"the batch is empty (shape {tuple(t.shape)}); give at least one image")
            return torch.stack([self._upscale_torch(x) for x in t])
        out = self.upscale_data(ImageData.from_tensor(t.detach().cpu()))
        return out.planes().to(t.device, t.dtype if t.is_floating_point() else torch.float32)

    def _upscale_numpy(self, arr: np.ndarray) -> np.ndarray:
        out = self.upscale_data(ImageData.from_numpy(arr)).planes().clamp_(0, 1).permute(1, 2, 0).numpy()
        out = out[..., 0] if arr.ndim == 2 else out
        if np.issubdtype(arr.dtype, np.floating):
            return out.astype(arr.dtype)
        peak = 65535.0 if arr.dtype == np.uint16 else 255.0
        return np.round(out * peak).astype(arr.dtype)

    def _upscale_pil(self, image: Any, progress: ProgressFunction | None) -> Any:
        return self.upscale_data(ImageData.from_pil(image), progress).to_pil()


def _psnr(reference: torch.Tensor, other: torch.Tensor) -> float:
    """PSNR (dB) of ``other`` against ``reference``, both clamped to [0, 1]."""
    mse = torch.mean((reference.clamp(0, 1) - other.clamp(0, 1)) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def available_memory() -> int:
    """Bytes of memory this process can still allocate (MemAvailable; 4 GiB if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


# ---- the renamed keyword (issue 30): tile_overlap was the context around each tile -----------------

_default_context = tile_context  # the module function, under a name the keyword does not shadow


def _renamed_tile_context(tile_context: int | None, tile_overlap: int | None) -> int | None:
    if tile_overlap is None:
        return tile_context
    import warnings

    warnings.warn(
        "Upscaler's tile_overlap is now tile_context (the context pixels each tile gets); the old name will be removed",
        DeprecationWarning,
        stacklevel=3,
    )
    if tile_context is not None and tile_context != tile_overlap:
        raise ValueError("give tile_context only (tile_overlap is its deprecated name)")
    return tile_overlap
