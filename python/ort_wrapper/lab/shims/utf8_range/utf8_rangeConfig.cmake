# utf8_range for ONNX Runtime's CMake (onnxruntime-builder native lab).
# ORT declares utf8_range only because the protobuf it would build needs it. Debian's
# protobuf 3.21 bundles its own copy, so nothing is needed: report the package as found.
set(utf8_range_FOUND TRUE)
