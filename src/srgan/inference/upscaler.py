"""``Upscaler``: the Python API for upscaling images with an srgan generator or a community
ESRGAN / Real-ESRGAN network.

    from srgan import Upscaler
    up = Upscaler.from_pretrained("srgan-x4")          # or a .safetensors / .pth / checkpoint / .onnx file
    big = up.upscale(Image.open("photo.jpg"))           # PIL in, PIL out (numpy and torch too)

An Upscaler holds only read-only state after construction, so ``upscale`` may be called from
several threads at once. What the network allows is its architecture's ``ArchSpec`` (``srgan.archs``);
what a precision resolves to is ``precision.resolve_precision``; the memory budget is ``budget``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs import NetworkConfig, spec_for
from srgan.archs.base import Ranges, first_non_finite
from srgan.imageio import ImageData, premultiply, unpremultiply
from srgan.inference import budget
from srgan.inference.precision import Precision, calibration_image, psnr, resolve_precision
from srgan.inference.tiling import ProgressFunction, upscale_with_backoff
from srgan.runtime import place, reuse_host_memory, select_device

ImageLike = TypeVar("ImageLike")


class Upscaler:
    """Upscale images with a network (PyTorch) or an exported ONNX model (onnxruntime).

    A network handed in is refused if a weight is NaN or infinite, unless ``weights_checked`` says
    the model-file loader made it (``open_model`` refuses non-finite tensors, and a ``--strength``
    blend of finite files is finite)."""

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
        weights_checked: bool = False,
    ) -> None:
        tile_context = _renamed_tile_context(tile_context, tile_overlap)
        self.spec = spec_for(config)
        self.config = config
        self.scale = config.scale
        self.device = select_device(device) if onnx_session is None else torch.device("cpu")
        if self.device.type == "cpu":
            reuse_host_memory()  # freed feature maps are reused instead of page-faulted in anew
        self.margin = self.spec.tile_context(config) if tile_context is None else tile_context
        self._tile = tile
        self._onnx = onnx_session
        self._model: nn.Module | None = None
        self._strips = self.spec.strips(config)
        if model is not None:
            bad = None if weights_checked else first_non_finite(model.state_dict())
            if bad is not None:
                raise ValueError(f"the network's tensor {bad} holds NaN or infinite values")
            # the architecture's inference form (srgan's SRResNet: BN folded, strip-wise reconstruction)
            net = self.spec.fast(model) if self.spec.fast is not None else model
            channels_last = self.device.type in ("cpu", "cuda")
            self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
            self._model = place(net, self.device, channels_last).eval()
        self._precision: Precision = resolve_precision(
            precision,
            self.device,
            self.spec,
            onnx=onnx_session is not None,
            has_int8_calibration=int8_ranges is not None,
            bf16_psnr=self.bf16_psnr,
            int8_psnr=lambda dtype: self._to_int8(int8_ranges, dtype),
        )
        self.autocast_dtype = self._precision.dtype
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
        return cls(
            opened.network,
            opened.spec.config,
            device,
            precision,
            tile,
            tile_context,
            None,
            opened.int8_ranges,
            weights_checked=True,  # open_blended's files were refused if not finite
        )

    def bf16_psnr(self) -> float:
        """PSNR (dB) between this model's bf16 and fp32 outputs on the calibration image."""
        x = calibration_image()[None].to(self.device)
        return psnr(self._forward(x, None), self._forward(x, torch.bfloat16))

    def _to_int8(self, ranges: Ranges | None, dtype: torch.dtype | None) -> float:
        """Switch to the architecture's int8 form; its PSNR (dB) against fp32 on the calibration image."""
        assert self.spec.int8 is not None and ranges is not None and self._model is not None
        x = calibration_image()[None]
        reference = self._forward(x, None)
        self._model = place(self.spec.int8.quantize(self._model, ranges), self.device, True)
        return psnr(reference, self._forward(x, dtype))

    # ---- the forward pass -------------------------------------------------------------------------

    @property
    def precision(self) -> str:
        return self._precision.name

    def _forward(self, batch: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
        # Networks that pixel-unshuffle their input need sides that are multiples of the factor:
        # edge-pad, then crop the output back.
        h, w = batch.shape[-2:]
        m = self.spec.input_multiple(self.config)
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
                assert self._model is not None
                if self._strips is not None:
                    out = self._reconstruct_in_strips(self._model, x)
                else:
                    out = self._model(x).float().cpu()
        return out[..., : h * self.scale, : w * self.scale]

    def _reconstruct_in_strips(self, model: Any, x: torch.Tensor) -> torch.Tensor:
        """The trunk on the whole tile, then the memory-heavy reconstruction in row strips with
        enough halo to be exact (``ArchSpec.strips``: the model has ``features`` and ``reconstruct``)."""
        assert self._strips is not None
        s, halo = self._strips.upscale, self._strips.halo
        features = model.features(x)
        n, _, h, w = features.shape
        rows = budget.strip_rows(n * w, self._strips)
        out = torch.empty(n, 3, h * s, w * s, dtype=torch.float32)
        for top in range(0, h, rows):
            bottom = min(top + rows, h)
            start, stop = max(top - halo, 0), min(bottom + halo, h)
            y = model.reconstruct(features[:, :, start:stop])
            out[:, :, top * s : bottom * s] = y[:, :, (top - start) * s : (bottom - start) * s].float().cpu()
        return out

    def auto_tile(self) -> int:
        """The tile side (LR pixels): the one asked for, else the largest that fits the memory budget."""
        if self._tile:
            return self._tile
        return budget.auto_tile(self.spec.tile_bytes_per_px(self.config), self.device, self.margin)

    def working_set_bytes(self) -> int:
        """Host memory the network itself uses while upscaling, whatever the image size."""
        return budget.working_set_bytes(
            self.auto_tile(), self.spec.tile_bytes_per_px(self.config), budget.batch_size(self.device)
        )

    # ---- public API -----------------------------------------------------------------------------

    def upscale_tensor(
        self,
        rgb: torch.Tensor,
        progress: ProgressFunction | None = None,
        on_retry: Callable[[int, int], None] | None = None,
        bits: int = 8,
        tile: int | None = None,
    ) -> torch.Tensor:
        """(3, H, W) float32 in [0, 1] -> (3, s*H, s*W) float32 (not clamped). ``bits`` > 8 keeps
        fp32 when the precision was chosen automatically. ``tile``: the tile side for this call instead
        of ``auto_tile()`` (a plan that depends on the tile's context, known only once the model is open)."""
        if rgb.dim() != 3 or rgb.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) tensor, got {tuple(rgb.shape)}")
        dtype = self._precision.for_bits(bits)
        return upscale_with_backoff(
            rgb.float().cpu(),
            lambda b: self._forward(b, dtype),
            self.scale,
            tile or self.auto_tile(),
            self.margin,
            batch=budget.batch_size(self.device),
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


# ---- the renamed keyword (issue 30): tile_overlap was the context around each tile -----------------


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
