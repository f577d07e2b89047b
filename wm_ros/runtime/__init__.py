"""World-model runtimes: one interface (:mod:`wm_ros.runtime.base`), two backends."""

from __future__ import annotations

from pathlib import Path


def load_runtime(model_dir: str | Path, backend: str = 'torch', **kwargs):
    """Return a runtime for ``model_dir``: ``torch`` (safetensors) or ``onnxruntime`` (ONNX).

    For ``onnxruntime`` the directory may be the ONNX export itself or a model directory
    with an ``onnx/`` export inside.
    """
    model_dir = Path(model_dir)
    if backend == 'torch':
        from wm_ros.runtime.torch_backend import TorchRuntime
        return TorchRuntime(model_dir, **kwargs)
    if backend == 'onnxruntime':
        from wm_ros.runtime.ort_backend import OrtRuntime
        onnx_dir = model_dir / 'onnx' if (model_dir / 'onnx' / 'step.onnx').exists() else model_dir
        return OrtRuntime(onnx_dir, **kwargs)
    raise ValueError(f"unknown backend {backend!r}; use 'torch' or 'onnxruntime'")
