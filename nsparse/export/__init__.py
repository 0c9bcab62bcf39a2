"""nsparse.export: parity-gated ONNX export, int8 quantization, TorchScript, ML Commons zips, encoding benchmark."""

from nsparse.export.onnx import ParityError, check_parity, export_onnx, quantize_int8
from nsparse.export.package import ExportSettings, export_variant

__all__ = ["ExportSettings", "ParityError", "check_parity", "export_onnx", "export_variant", "quantize_int8"]
