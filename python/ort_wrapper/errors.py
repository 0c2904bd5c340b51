"""The exception hierarchy: every deliberate error here derives from OrtWrapperError."""

from __future__ import annotations

import re

__all__ = [
    "STATUS_CODES",
    "BackendLimitError",
    "BuildError",
    "BundleError",
    "ElfError",
    "EscapeError",
    "InitError",
    "InputError",
    "LabEnvironmentError",
    "LinkError",
    "ModelLoadError",
    "OrtApiError",
    "OrtWrapperError",
    "OutputError",
    "ProviderUnavailableError",
    "VariantError",
]


class OrtWrapperError(Exception):
    """Base class of every error ort_wrapper raises deliberately."""


class InitError(OrtWrapperError):
    """The distribution could not be located, validated or loaded."""


class ModelLoadError(OrtWrapperError):
    """A model (path or bytes) could not be read or parsed by ONNX Runtime."""


class InputError(OrtWrapperError):
    """Feeds do not fit the model's input signature."""


class BackendLimitError(InputError):
    """A feed the backend cannot express (the C API makes no optional values and no empty
    sequences); the pybind module can."""


class ProviderUnavailableError(OrtWrapperError):
    """A required execution provider is not actually in use, with the reason.

    ``fallbacks`` holds one ``Fallback(provider, reason)`` per provider that is not in use.
    """

    def __init__(self, message: str, fallbacks: tuple = ()) -> None:
        super().__init__(message)
        self.fallbacks = fallbacks


# OrtErrorCode of onnxruntime_c_api.h, by value: the name of an OrtStatus's code.
STATUS_CODES = (
    "ORT_OK", "ORT_FAIL", "ORT_INVALID_ARGUMENT", "ORT_NO_SUCHFILE", "ORT_NO_MODEL",
    "ORT_ENGINE_ERROR", "ORT_RUNTIME_EXCEPTION", "ORT_INVALID_PROTOBUF", "ORT_MODEL_LOADED",
    "ORT_NOT_IMPLEMENTED", "ORT_INVALID_GRAPH", "ORT_EP_FAIL", "ORT_MODEL_LOAD_CANCELED",
    "ORT_MODEL_REQUIRES_COMPILATION", "ORT_NOT_FOUND",
)  # fmt: skip
# How ONNX Runtime's Python binding spells a failed status: "[ONNXRuntimeError] : 6 :
# RUNTIME_EXCEPTION : <ORT's message>". Both backends use it, so a message reads the same.
_PREFIX = "[ONNXRuntimeError] : {number} : {name} : "
_PREFIXED = re.compile(r"\[ONNXRuntimeError\] : (\d+) : \w+ : ")


def _code(number: int) -> str:
    return STATUS_CODES[number] if 0 <= number < len(STATUS_CODES) else f"code {number}"


class OrtApiError(OrtWrapperError):
    """ONNX Runtime reported an error: its status code's name in ``code`` (``ORT_FAIL``,
    ``ORT_INVALID_ARGUMENT``, ...) and ORT's message, on both backends in the Python binding's
    form ``[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : ...``."""

    def __init__(self, message: str, code: str = "ORT_FAIL") -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def from_status(cls, number: int, message: str) -> OrtApiError:
        """The error for an OrtStatus of the C API: its code's name and ORT's message, prefixed
        as the Python binding prefixes it."""
        code = _code(number)
        prefix = _PREFIX.format(number=number, name=code.removeprefix("ORT_"))
        return cls(prefix + message.rstrip(), code)

    @classmethod
    def wrapping(cls, context: str, exc: BaseException) -> OrtApiError:
        """``context: <ORT's message>`` with ORT's code: an OrtApiError's own, or the one the
        Python binding's message names; an exception of the binding without one (a C++
        exception) is ``ORT_RUNTIME_EXCEPTION``, as the C API reports those."""
        if isinstance(exc, OrtApiError):
            return cls(f"{context}: {exc}", exc.code)
        text = str(exc).rstrip()  # ORT's messages often end in a newline
        found = _PREFIXED.match(text)
        if found is None:
            error = cls.from_status(STATUS_CODES.index("ORT_RUNTIME_EXCEPTION"), text)
            return cls(f"{context}: {error}", error.code)
        return cls(f"{context}: {text}", _code(int(found[1])))


class ElfError(OrtWrapperError):
    """A file is not a readable ELF object of the expected kind."""


class VariantError(OrtWrapperError):
    """The variant matrix (pkgs/variants.json) is malformed or names an unknown variant."""


class BuildError(OrtWrapperError):
    """A build, finalize or link-flags step failed."""


class BundleError(OrtWrapperError):
    """A bundle or wheel could not be made or verified."""


class LabEnvironmentError(BuildError):
    """The native build lab's environment failed (mirror unreachable, a Debian package broken),
    as opposed to a failure of this project's own steps."""


class LinkError(BuildError):
    """A static distribution's archives did not link with its own link flags; ``command`` is
    the link command that failed."""

    def __init__(self, message: str, command: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.command = command


class EscapeError(OrtWrapperError):
    """An untrusted string cannot be written in a target language (a cargo line, CMake, the
    shell, pkg-config, ORT's operator config) as exactly what it is: ``escape`` refuses it."""


class OutputError(OrtWrapperError):
    """A report file the user named (``check``/``doctor`` ``--json FILE``) cannot be written:
    ``path`` and why. The command line prints ``cannot write PATH: WHY`` and exits 2, a usage
    error, since those verbs' exit 1 means the report found a failure."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason
