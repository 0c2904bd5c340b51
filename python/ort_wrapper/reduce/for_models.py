"""The operator config for a set of models: what their nodes use, plus, given a full build of
the same version, what ONNX Runtime's optimisers turn them into."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..operators import ModelRecord, Operator, OperatorConfig
from .models import model_operators

__all__ = ["config_for_models"]

log = logging.getLogger(__name__)


def config_for_models(models: Sequence[Path], dist: Path | None = None) -> OperatorConfig:
    """The config of ``models``; with ``dist``, the operators its optimisers add too."""
    if not models:
        raise InputError("no models given: a reduced build is made for one model or more")
    records: list[ModelRecord] = []
    operators: set[Operator] = set()
    for path in models:
        record, used = model_operators(path)
        records.append(record)
        operators |= used
    if dist is not None:
        from .optimize import optimized_operators

        found, added = optimized_operators(dist, models)
        log.info("the optimisers of %s add %d operator(s)", found, len(added - operators))
        operators |= added
    return OperatorConfig.of(operators, records)
