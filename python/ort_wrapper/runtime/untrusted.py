"""The one place where a distribution's native code runs, and how it is confined.

A distribution's libraries are untrusted. Before anything of theirs is loaded, :func:`vet`
decides from reading the files alone: the library is a regular ELF file of this host, it
resolves (symlinks followed) inside its distribution or the host's system library directories,
it exports what ONNX Runtime exports (``OrtGetApiBase``; the pybind module's ``PyInit_…``), and
everything the dynamic loader would resolve for it stays there too: every ``DT_NEEDED`` is a
name (never a path such as ``../../x.so``) and every RUNPATH/RPATH directory lies inside the
distribution or the system directories. The release version, where the library's symbol
versions tell it (``VERS_1.23.2``), is read here too, so nothing runs to learn it.

Loading then happens only through this module: :func:`load_library` and
:func:`import_onnxruntime` in this process (``init()``), or :func:`run_confined` in a child:
its own session and process group (killed, grandchildren included, on timeout, on any way the
call ends, and by the kernel when the parent dies), no inherited descriptors but the standard
streams and its result channel, stdout discarded (a library's prints are never a result), and a
result accepted only on that channel behind a nonce the child read before loading anything
(:func:`receive`). Where ``bwrap`` (bubblewrap) works it also runs in a sandbox: the file system
read-only, a private ``/tmp``, no network, its own PID namespace. ``ORT_WRAPPER_SANDBOX``:
``auto`` (the default: bubblewrap when usable), ``off``, or ``bubblewrap`` (required).
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import importlib
import importlib.util
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from ..elf.exports import exports
from ..elf.reader import host_machine, read_elf
from ..elf.resolve import DEFAULT_DIRS, conf_dirs
from ..errors import ElfError, InitError

__all__ = [
    "RESULT_FD_ENV",
    "SANDBOX_ENV",
    "Confined",
    "Role",
    "Roots",
    "Sandbox",
    "host_library",
    "import_onnxruntime",
    "load_library",
    "receive",
    "run_confined",
    "sandbox",
    "this_program",
    "vet",
]

SANDBOX_ENV = "ORT_WRAPPER_SANDBOX"
RESULT_FD_ENV = "ORT_WRAPPER_RESULT_FD"
_NIX_STORE = "/nix/store"  # read-only and content-addressed: a Nix host's system libraries
_MAX_MESSAGE = 64 << 20  # bytes of one result message
_STDERR_TAIL = 2000
_PR_SET_PDEATHSIG = 1


class Role(enum.Enum):
    """What a vetted library must be, by the symbol it must export (None: any library)."""

    CORE = "OrtGetApiBase"  # libonnxruntime.so*: the C API
    MODULE = "PyInit_onnxruntime_pybind11_state"  # the onnxruntime package's native module
    DEPENDENCY = None  # a preload the distribution declares


class Sandbox(enum.StrEnum):
    """How a confined child runs."""

    BUBBLEWRAP = "bubblewrap"  # read-only file system, private /tmp, no network, PID namespace
    PROCESS_GROUP = "process group"  # its own session; killed with all it started


# a distribution's directory, or its directories (a static one's linked library lives in the
# cache, its RUNPATH in the distribution)
Roots = Path | tuple[Path, ...]


def _system_dirs() -> tuple[Path, ...]:
    return tuple(Path(d).resolve() for d in (*conf_dirs(), *DEFAULT_DIRS, _NIX_STORE))


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    real = path.resolve()
    return any(real.is_relative_to(base) for base in roots)


def _search_dirs(lib: Path, entries: Iterable[str], roots: tuple[Path, ...]) -> list[Path]:
    """RUNPATH/RPATH entries of ``lib`` with $ORIGIN expanded; InitError for one leading
    outside ``roots`` and the system directories, or using another dynamic string token."""
    dirs = []
    for entry in entries:
        expanded = entry.replace("${ORIGIN}", "$ORIGIN").replace("$ORIGIN", str(lib.parent))
        where = Path(os.path.normpath(expanded))
        allowed = where.is_absolute() and _inside(where, (*roots, *_system_dirs()))
        if "$" in expanded or not allowed:
            raise InitError(
                f"{lib}: its RUNPATH/RPATH entry {entry!r} leads outside {roots[0]} (and the "
                "system library directories): the loader would take libraries from there"
            )
        dirs.append(where)
    return dirs


def _walk(lib: Path, roots: tuple[Path, ...], seen: set[Path]) -> None:
    """Check what the loader would resolve for ``lib``, and for the libraries it finds
    inside ``roots``, recursively."""
    real = lib.resolve()
    if real in seen:
        return
    seen.add(real)
    info = read_elf(real)
    dirs = _search_dirs(lib, (*info.rpath, *info.runpath), roots)
    for name in info.needed:
        if "/" in name:
            raise InitError(
                f"{lib} needs {name!r}: a DT_NEEDED entry that is a path, which the loader "
                "opens as given (relative to the working directory); expected a library name"
            )
        found = next((d / name for d in dirs if (d / name).is_file()), None)
        if found is not None and _inside(found, roots):
            _walk(found, roots, seen)


def _check_file(path: Path, roots: tuple[Path, ...]) -> None:
    if not _inside(path, (*roots, *_system_dirs())):
        raise InitError(
            f"{path} leads to {path.resolve()}, outside its distribution {roots[0]} (and the "
            "system library directories): only a distribution's own libraries are loaded"
        )
    try:
        info = read_elf(path)
    except ElfError as exc:
        raise InitError(str(exc)) from None
    machine, elf_class = host_machine()
    if (info.machine, info.elf_class) != (machine, elf_class):
        raise InitError(f"{path} is built for {info.arch}, not for this host")


def vet(path: Path, root: Roots, role: Role) -> None:
    """Decide, reading only, whether ``path`` (of the distribution at ``root``) may be loaded
    as ``role`` (see the module docstring); InitError naming the file and the reason."""
    roots = tuple(r.resolve() for r in ((root,) if isinstance(root, Path) else root))
    _check_file(path, roots)
    try:
        if role.value is not None and not exports(path.resolve(), role.value):
            raise InitError(
                f"{path} is not ONNX Runtime: it does not export {role.value} (read from its "
                "dynamic symbol table; nothing was loaded)"
            )
        _walk(path, roots, set())
    except ElfError as exc:
        raise InitError(str(exc)) from None


def load_library(path: Path, root: Roots, role: Role, global_: bool = False) -> ctypes.CDLL:
    """Vet ``path`` and load it into this process (RTLD_LOCAL, or RTLD_GLOBAL for a preload);
    InitError when it is refused or does not load."""
    vet(path, root, role)
    mode = ctypes.RTLD_GLOBAL if global_ else ctypes.RTLD_LOCAL
    try:
        return ctypes.CDLL(str(path), mode=mode)
    except OSError as exc:
        raise InitError(f"cannot load {path}: {exc}") from None


def this_program() -> ctypes.CDLL:
    """This program's own symbols (a Python linked with a static distribution's archives)."""
    return ctypes.CDLL(None)


def host_library(soname: str) -> ctypes.CDLL:
    """A host library by soname (the GPU driver), found on the loader's own path only;
    OSError when the loader does not find it."""
    if "/" in soname:
        raise InitError(f"{soname!r}: expected a library name, not a path")
    return ctypes.CDLL(soname)


def import_onnxruntime(python_path: Path | None = None, root: Path | None = None) -> ModuleType:
    """Vet the native modules of the ``onnxruntime`` package under ``python_path`` (None:
    where ``import onnxruntime`` finds it) as part of the distribution at ``root`` (default:
    the directory holding the package), then import it. The caller puts ``python_path`` on
    ``sys.path``."""
    if python_path is None:
        spec = importlib.util.find_spec("onnxruntime")
        if spec is None or not spec.submodule_search_locations:
            raise InitError("no onnxruntime package is installed")
        package = Path(spec.submodule_search_locations[0])
    else:
        package = python_path / "onnxruntime"
    for native in sorted((package / "capi").glob("onnxruntime_pybind11_state*.so")):
        vet(native, root or package.parent, Role.MODULE)
    return importlib.import_module("onnxruntime")


@lru_cache(maxsize=1)
def _bubblewrap() -> str | None:
    """``bwrap`` when it can make this sandbox here (a container may forbid namespaces)."""
    found = shutil.which("bwrap")
    if found is None:
        return None
    argv = [found, *_BWRAP_BASE, "--", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if done.returncode == 0 else None


_BWRAP_BASE = (
    "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
    "--unshare-net", "--unshare-pid", "--die-with-parent",
)  # fmt: skip


def sandbox() -> Sandbox:
    """The confinement :func:`run_confined` gives here (``ORT_WRAPPER_SANDBOX``)."""
    wanted = os.environ.get(SANDBOX_ENV, "auto") or "auto"
    if wanted not in ("auto", "off", "bubblewrap"):
        raise InitError(f"{SANDBOX_ENV}={wanted!r}: expected auto, off or bubblewrap")
    if wanted == "off":
        return Sandbox.PROCESS_GROUP
    if _bubblewrap() is not None:
        return Sandbox.BUBBLEWRAP
    if wanted == "bubblewrap":
        raise InitError(
            f"{SANDBOX_ENV}=bubblewrap, but bwrap is not on PATH or cannot create namespaces "
            "here (install Debian's bubblewrap, or set it to auto)"
        )
    return Sandbox.PROCESS_GROUP


def _sandboxed(
    argv: Sequence[str], cwd: Path, readable: Iterable[Path], writable: Iterable[Path]
) -> list[str]:
    """The bwrap command: everything read-only, and of the private /tmp only what it must read
    (a view of the host's, read-only) or write."""
    bwrap = _bubblewrap()
    assert bwrap is not None
    private = Path("/tmp")
    binds: list[str] = []
    for flag, paths in (("--ro-bind", [*readable, cwd]), ("--bind", writable)):
        for path in dict.fromkeys(Path(p).absolute() for p in paths):
            hidden = path.is_relative_to(private) and path != private
            if path.exists() and (hidden or flag == "--bind"):
                binds += [flag, str(path), str(path)]
    return [bwrap, *_BWRAP_BASE, *binds, "--chdir", str(cwd), "--", *argv]


@dataclass(frozen=True)
class Confined:
    """How a confined child ended: the last result it sent (None: none), its exit status
    (negative: a signal; None: it ran out of time) and why there is no usable result."""

    result: Any
    code: int | None
    error: str | None
    sandbox: Sandbox


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to kill the child when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it died before the hook ran
            os._exit(1)

    return hook


class _Reader:
    """The parent's end of the result channel: messages are ``NONCE JSON`` lines; anything
    else (a library writing to every descriptor it finds) is ignored."""

    def __init__(self, fd: int, nonce: str) -> None:
        self.fd, self.prefix = fd, f"{nonce} ".encode()
        self.buffer, self.result, self.overflow, self.closed = b"", None, False, False
        os.set_blocking(fd, False)

    def drain(self) -> None:
        while not self.closed:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                self.closed = True
                return
            self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        *lines, self.buffer = (self.buffer + chunk).split(b"\n")
        if len(self.buffer) > _MAX_MESSAGE:
            self.overflow, self.buffer = True, b""
        for line in lines:
            if line.startswith(self.prefix):
                try:
                    self.result = json.loads(line[len(self.prefix) :])
                except ValueError:
                    continue


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child ended, without reaping it where the platform can (its process group
    stays addressable)."""
    if not hasattr(os, "waitid"):  # macOS
        return proc.poll() is not None
    found = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return found is not None and found.si_pid == proc.pid


def _exchange(proc: subprocess.Popen[bytes], reader: _Reader, deadline: float) -> bool:
    """Read the channel until the child ends; False when the deadline passed first."""
    with selectors.DefaultSelector() as selector:
        selector.register(reader.fd, selectors.EVENT_READ)
        while not _exited(proc):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if reader.closed:
                time.sleep(min(left, 0.05))
            elif selector.select(min(left, 0.05)):
                reader.drain()
                if reader.closed:
                    selector.unregister(reader.fd)
    return True


def _send_request(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write the nonce and request to the child's stdin (a child that ends without reading
    them simply gives no result)."""
    assert proc.stdin is not None
    with contextlib.suppress(OSError):
        proc.stdin.write(data)
        proc.stdin.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _why(what: str, code: int | None, timeout: float, stderr: str, result: Any) -> str | None:
    if code is None:
        return f"{what} did not finish within {timeout:.0f} s"
    if code < 0:
        return f"{what} was killed by signal {-code}"
    if code != 0:
        return stderr or f"{what} exited with {code}"
    return None if result is not None else (stderr or f"{what} sent no result")


def run_confined(
    argv: Sequence[str],
    *,
    what: str,
    timeout: float,
    request: Any = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    readable: Iterable[Path] = (),
    writable: Iterable[Path] = (),
    show_output: bool = False,
) -> Confined:
    """Run ``argv`` (a child that calls :func:`receive`) confined and send it ``request``.
    ``readable``/``writable``: what it may see under the sandbox's private /tmp, and where it
    may write; ``cwd``: its working directory (default this one's); ``show_output``: its stdout
    and stderr are this process's (else stdout is discarded and stderr's tail explains a
    failure)."""
    how = sandbox()
    cwd = cwd or Path.cwd()
    command = list(argv)
    if how is Sandbox.BUBBLEWRAP:
        command = _sandboxed(argv, cwd, readable, writable)
    nonce = secrets.token_hex(16)
    payload = f"{nonce}\n{json.dumps(request)}\n".encode()
    result_r, result_w = os.pipe()
    child_env = {**(os.environ if env is None else env), RESULT_FD_ENV: str(result_w)}
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=None if show_output else subprocess.DEVNULL,
                stderr=None if show_output else err,
                env=child_env,
                cwd=cwd,
                pass_fds=(result_w,),
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            os.close(result_r)
            return Confined(None, -1, f"cannot run {argv[0]}: {exc.strerror}", how)
        finally:
            os.close(result_w)
        reader = _Reader(result_r, nonce)
        try:
            _send_request(proc, payload)
            finished = _exchange(proc, reader, time.monotonic() + timeout)
        finally:
            _kill_group(proc)
            reader.drain()
            os.close(result_r)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip()[-_STDERR_TAIL:]
    code = proc.returncode if finished else None
    if how is Sandbox.BUBBLEWRAP and code is not None and 128 < code <= 128 + 64:
        code = 128 - code  # bwrap exits 128+N for a command killed by signal N
    why = _why(what, code, timeout, tail, reader.result)
    if reader.overflow:
        why = f"{what} sent a result larger than {_MAX_MESSAGE >> 20} MiB"
    return Confined(reader.result, code, why, how)


class Channel:
    """The child's end of the result channel (see :func:`receive`)."""

    def __init__(self, fd: int, nonce: str) -> None:
        self._fd, self._nonce = fd, nonce

    def send(self, data: Any) -> None:
        """Send ``data`` (JSON); the parent keeps the last message sent."""
        message = memoryview(f"{self._nonce} {json.dumps(data)}\n".encode())
        while message:
            message = message[os.write(self._fd, message) :]


def receive() -> tuple[Channel, Any]:
    """In a child of :func:`run_confined`, before any untrusted code is loaded: the result
    channel and the request. Stdin is then /dev/null and the channel's descriptor is no
    longer named in the environment."""
    data = b""
    while chunk := os.read(0, 1 << 16):
        data += chunk
    nonce, _, request = data.decode().partition("\n")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    fd = int(os.environ.pop(RESULT_FD_ENV))
    return Channel(fd, nonce), json.loads(request or "null")
