"""GPU figures for provenance: how much device memory a back end held, on which device.

PyTorch back ends read the caching allocator's peak (`torch.cuda.max_memory_allocated`).
llama.cpp allocates outside PyTorch, so its figure comes from NVML (the driver's view of
this process, `nvidia-ml-py`, installed with dvclive); llama.cpp reserves weights, KV
cache and compute buffers when the model and context are created, so sampling after each
request sees its peak.
"""

from __future__ import annotations

import os
from typing import Any

import torch


def torch_cuda_figures(device: torch.device) -> dict[str, Any]:
    """Peak memory PyTorch allocated on `device` since the last reset, and the device's name."""
    return {
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(device),
        "device": torch.cuda.get_device_name(device),
    }


def nvml_process_memory() -> dict[str, Any] | None:
    """Device memory this process holds on each GPU per NVML (None without a driver or GPU).

    On unified-memory parts (GB10, Jetson) NVML may not report per-process usage: those
    devices are listed with None.
    """
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        devices: dict[str, int | None] = {}
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            used = None
            for process in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if process.pid == os.getpid():
                    used = process.usedGpuMemory
            devices[f"{index}:{pynvml.nvmlDeviceGetName(handle)}"] = used
        return devices
    finally:
        pynvml.nvmlShutdown()
