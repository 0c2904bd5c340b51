"""The exception hierarchy: every deliberate error here derives from OrtWrapperError."""

from __future__ import annotations

__all__ = [
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


class OrtApiError(OrtWrapperError):
    """ONNX Runtime's C API returned an OrtStatus: ORT's message, and its error code's name
    (``ORT_INVALID_ARGUMENT``, ``ORT_NO_SUCHFILE``, ...) in ``code``."""

    def __init__(self, message: str, code: str = "ORT_FAIL") -> None:
        super().__init__(message)
        self.code = code


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
