"""Where and how a run executes: device, precision, seeds, distributed processes.

- ``auto`` precision is bf16 autocast where the hardware has it (CUDA with bf16, or a CPU with AVX-512
  BF16 or AMX), fp16 with a gradient scaler on older GPUs, fp32 elsewhere.
- Seeding covers Python, NumPy and torch (CPU and CUDA). On CPU a seeded run is deterministic. On GPU,
  cuDNN's convolution algorithms are not unless ``deterministic=True`` (slower), which also sets
  ``torch.use_deterministic_algorithms``; atomics in some backward kernels can still differ run to run.
- Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group uses NCCL on GPUs and gloo on CPUs.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from resnets.errors import ResnetsError


@dataclass
class Runtime:
    """The resolved execution settings of one process."""

    device: torch.device
    precision: str
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        dtype = self.amp_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)


def channels_last_hazard(model: torch.nn.Module, device: torch.device) -> str | None:
    """Why channels_last must stay off for ``model`` on ``device``, or None when it is safe.

    oneDNN's CPU 1x1-convolution backward for weights writes past its workspace when a strided 1x1
    convolution reads channels-last input with fewer channels than its register block (8 with AVX2, 16
    with AVX-512): wrong weight gradients, a hang, or a crashed process (oneDNN issue 6035, still open;
    seen here with torch 2.13 on an AVX2 CPU for ``Conv2d(4, 8, 1, stride=2)``). oneDNN picks its
    instruction set itself, and the report does not pin down every affected shape, so the rule is
    deliberately wider than the crash seen: any channel count that is not a multiple of 16 counts (for widths
    like 24 or 40 that costs speed, not correctness). Narrow custom stacks with projection
    shortcuts meet it; the zoo's widths (multiples of 16) do not.
    """
    if device.type != "cpu":
        return None
    block = 16
    for name, module in model.named_modules():
        if (isinstance(module, torch.nn.Conv2d) and module.kernel_size == (1, 1) and module.stride != (1, 1)
                and module.in_channels % block):
            return (f"channels_last is off for this run: {name} is a strided 1x1 convolution over "
                    f"{module.in_channels} channels, which oneDNN's CPU backward gets wrong in channels-last "
                    f"memory (give stages widths that are multiples of {block})")
    return None


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 matrix work natively (AVX-512 BF16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ResnetsError(f"device {name!r} was asked for, but this machine has no CUDA GPU; use --device cpu.")
    return device


def pick_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ResnetsError("this GPU has no bf16; use --precision fp16 or fp32.")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cpu_has_bf16():
        return "bf16"
    return "fp32"


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True


def rng_state() -> dict[str, Any]:
    """Every global random state, for a checkpoint (resuming replays the same draws)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def setup_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    """Resolve the device and precision; join the process group when launched by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend)
    return Runtime(dev, pick_precision(precision, dev), rank, world, local)
