"""How much memory upscaling may use: the tile side from free memory, the reconstruction strips,
and the working set the file-level memory check adds up.

The per-architecture figures (activation bytes per LR pixel of a tile, per feature pixel of a
reconstruction strip) are the architecture's (``ArchSpec``); the budget they are spent against is
decided here.
"""

from __future__ import annotations

import math

import torch

from srgan.archs.base import Strips

# The reconstruction (upsamplers and tail) runs in row strips whose large tensors stay within this.
STRIP_BYTES = 256 << 20
# Tiles are multiples of this many LR pixels a side.
TILE_STEP = 8


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


def activation_budget(device: torch.device) -> float:
    """Bytes a tile's activations may take: a quarter of free memory (at most 512 MiB) on the CPU,
    half of free GPU memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return 0.5 * free
    return min(available_memory() / 4, 512 << 20)


def auto_tile(bytes_per_px: int, device: torch.device, margin: int) -> int:
    """The largest tile (LR pixels per side) whose activations fit ``activation_budget``, and never
    less than the context margins plus 32 pixels."""
    side = int(math.sqrt(activation_budget(device) / bytes_per_px)) // TILE_STEP * TILE_STEP
    return max(side, 2 * margin + 32)


def batch_size(device: torch.device) -> int:
    """Tiles per forward pass: a CPU gains nothing from batching big tiles."""
    return 4 if device.type == "cuda" else 1


def working_set_bytes(tile: int, bytes_per_px: int, batch: int) -> int:
    """Host memory the network itself uses while upscaling: a batch of tiles' activations and the
    reconstruction strips, whatever the image size."""
    return tile**2 * bytes_per_px * batch + STRIP_BYTES


def strip_rows(width: int, strips: Strips) -> int:
    """Feature rows per reconstruction strip of ``width`` feature pixels (batch included), so the
    strip stays within STRIP_BYTES; at least 8."""
    return max(int(STRIP_BYTES // (width * strips.bytes_per_px)), 8)
