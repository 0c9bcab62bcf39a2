"""nsparse.export: parity-gated ONNX export, int8 quantization, TorchScript, ML Commons zips, encoding benchmark."""

from nsparse.export.onnx import ParityError, check_parity, export_onnx, quantize_int8
from nsparse.export.package import export_variant, package_fitted

__all__ = ["ParityError", "check_parity", "export_onnx", "export_variant", "package_fitted", "quantize_int8"]
