"""Reduced builds: the operators a set of models needs, as ONNX Runtime's own config file.

``models`` (the operators a model file uses), ``optimize`` (the operators ONNX Runtime's
optimisers add, found by letting a full build of the same version optimise the models) and
``for_models`` (both, as the config ``ort_wrapper.operators`` reads, writes and records).
"""
