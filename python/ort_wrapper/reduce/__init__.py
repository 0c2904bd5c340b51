"""Reduced builds: the operators a set of models needs, as ONNX Runtime's own config file.

``config`` (the config: read, written, recorded in a manifest), ``models`` (the operators a
model file uses) and ``optimize`` (the operators ONNX Runtime's optimisers add, found by letting
a full build of the same version optimise the models).
"""
