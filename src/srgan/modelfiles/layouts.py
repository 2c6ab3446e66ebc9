"""The containers of community model files: the tensor mapping inside a ``.pth`` and the prefix
``nn.DataParallel`` adds. An architecture's own key layouts (the original ESRGAN repository's
names for RRDBNet, say) are its ``ArchSpec.normalise`` in ``srgan.archs``.
"""

from __future__ import annotations

import torch

State = dict[str, torch.Tensor]

# BasicSR stores the EMA weights beside the raw ones; the EMA ones are the published model.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


def unwrap(obj: object) -> State | None:
    """The tensor mapping inside a loaded ``.pth`` (a wrapper's EMA weights first), or None."""
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return obj
    return None


def strip_data_parallel(state: State) -> State:
    """``state`` without the ``module.`` prefix ``nn.DataParallel`` adds to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k.removeprefix("module."): v for k, v in state.items()}
    return state
