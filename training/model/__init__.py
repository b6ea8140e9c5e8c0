"""The model: distilled static embedding, gradient-boosted heads, calibration, the fused ONNX graph
and the bundle export.
"""
