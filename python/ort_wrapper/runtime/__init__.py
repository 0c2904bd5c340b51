"""Loading ONNX Runtime and running models: init(), SessionBuilder, Session, infer().

Nothing here imports ``onnxruntime`` at module import time: ``init()`` must be able to preload a
distribution's libraries first.
"""
