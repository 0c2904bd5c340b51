"""Whether a provider actually runs: build a session on a one-node model and read what ORT used.

The model is serialised here with a few lines of protobuf wire format, so probing needs neither
the ``onnx`` package nor a file.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProbeResult", "identity_model", "probe_provider"]

_IR_VERSION = 8
_OPSET = 13
_FLOAT = 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int | str) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, size: int) -> bytes:
    shape = _field(2, _field(1, _field(1, size)))  # TensorShapeProto.dim.dim_value
    tensor = _field(1, _FLOAT) + shape  # TypeProto.Tensor: elem_type, shape
    return _field(1, name) + _field(2, _field(1, tensor))  # ValueInfoProto: name, type


def identity_model(size: int = 4) -> bytes:
    """A serialised ONNX model: Y = Identity(X), float32 [size]."""
    node = _field(1, "X") + _field(2, "Y") + _field(4, "Identity")
    graph = (
        _field(1, node)
        + _field(2, "probe")
        + _field(11, _value_info("X", size))
        + _field(12, _value_info("Y", size))
    )
    opset = _field(1, "") + _field(2, _OPSET)
    return _field(1, _IR_VERSION) + _field(8, opset) + _field(7, graph)


@dataclass(frozen=True)
class ProbeResult:
    """Whether a session asking for ``provider`` really used it, and why not."""

    provider: str
    used: bool
    reason: str


def probe_provider(provider: str) -> ProbeResult:
    """Create a session on the probe model with ``provider`` first (initialising if needed)."""
    from ..errors import OrtWrapperError, ProviderUnavailableError
    from .session import SessionBuilder

    builder = SessionBuilder.from_bytes(identity_model())
    try:
        builder.with_providers(provider, strict=True).build()
    except ProviderUnavailableError as exc:
        reasons = [f.reason for f in exc.fallbacks if f.provider == provider]
        return ProbeResult(provider, False, reasons[0] if reasons else str(exc))
    except OrtWrapperError as exc:
        return ProbeResult(provider, False, str(exc))
    return ProbeResult(provider, True, "")
