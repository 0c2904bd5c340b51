"""Every execution of a distribution's code goes through ``runtime/untrusted.py``: the scan finds
each call that loads a library (``ctypes.CDLL`` and kin), imports a module by name, imports
``onnxruntime``, or starts a process, and fails on one outside that module unless the table
below names its module with why it runs only trusted tools. A confined child's entry point
must take its request through ``receive()`` before it loads anything.

Like ``test_import_graph.py``, a new call site fails until it goes through the choke point or
is listed here with its reason, and a listed site the code no longer has fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "python" / "ort_wrapper"
CHOKE_POINT = "runtime/untrusted.py"

LOADS = frozenset({"CDLL", "PyDLL", "LoadLibrary", "dlopen"})
IMPORTS_BY_NAME = frozenset({"import_module", "__import__"})
SPAWNS = frozenset(
    {
        "run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput",
        "system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "spawnv",
        "spawnve", "spawnvp", "spawnl", "execv", "execve", "execvp", "execvpe", "execl",
        "execlp", "execle", "create_subprocess_exec", "create_subprocess_shell",
    }
)  # fmt: skip
SPAWNING_MODULES = frozenset({"subprocess", "os", "pty", "asyncio"})
# runtime/tools.py's runner of trusted tools, under the names it is imported as
TOOL_RUNNERS = frozenset({"run_command", "_run"})

# module -> why the processes it starts (or the modules it imports by name) run no
# distribution code
TRUSTED = {
    "cli/__init__.py": "imports its own verb modules (ort_wrapper.cli.main_*) by name",
    "runtime/tools.py": "run_command: the runner of trusted tools (compiler, linker)",
    "runtime/capi/static.py": "links a static distribution's archives with cc (reads them)",
    "check/capi.py": "compiles the static probe with cc; the program runs via run_confined",
    "bundle/patch.py": "patchelf edits copies of libraries (reads and writes them as data)",
    "bundle/wheel.py": "auditwheel repairs a wheel (reads its ELF files as data)",
    "elf/bitcode.py": "llvm-nm/llvm-dis read bitcode members as data (on stdin)",
    "elf/macho.py": "llvm-nm/otool read Mach-O files as data",
    "finalize/archives.py": "ar and nm read and merge static archives as data",
    "finalize/darwin.py": "libtool/lipo merge darwin archives as data",
    "lab/chroot.py": "the build lab's chroot: the user's own build of ONNX Runtime",
    "lab/source_patches.py": "patch(1) applies the repository's patches to the source tree",
    "lab/source.py": "tar unpacks a source tarball whose sha256 matched its pin",
}

# modules with a __main__ block that are no confined child, and why
NOT_CHILDREN = {
    "runtime/capi/header.py": "regenerates ortapi.json from a header: reads text, loads nothing"
}


def _name(node: ast.expr) -> tuple[str, ...]:
    """('ctypes', 'CDLL') for ctypes.CDLL, ('CDLL',) for a bare name."""
    if isinstance(node, ast.Attribute):
        return (*_name(node.value), node.attr)
    if isinstance(node, ast.Name):
        return (node.id,)
    return ()


def _spawns(name: tuple[str, ...]) -> bool:
    """subprocess.run, os.execv, ... or the trusted-tool runner (run_command)."""
    if len(name) >= 2 and name[-2] in SPAWNING_MODULES:
        return name[-1] in SPAWNS
    return name[-1] in TOOL_RUNNERS and (len(name) == 1 or name[-2] == "tools")


def _the_program_itself(call: ast.Call) -> bool:
    """``CDLL(None)``: dlopen(NULL), the symbols already loaded (files.py's renameat2 from
    libc); it loads nothing."""
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Constant) and first.value is None


def _findings(tree: ast.AST) -> Iterator[tuple[str, int, str]]:
    """(kind, line, call) for every load, import by name, onnxruntime import and spawn."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if not name:
                continue
            if name[-1] in LOADS and not _the_program_itself(node):
                yield "load", node.lineno, ".".join(name)
            elif name[-1] in IMPORTS_BY_NAME:
                yield "import", node.lineno, ".".join(name)
            elif _spawns(name):
                yield "spawn", node.lineno, ".".join(name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules.append(node.module)
            if any(m == "onnxruntime" or m.startswith("onnxruntime.") for m in modules):
                yield "import", node.lineno, "import onnxruntime"


def scan(source: Path = SOURCE) -> dict[str, list[tuple[str, int, str]]]:
    """Module (relative to ``source``) -> its findings."""
    found = {}
    for path in sorted(source.rglob("*.py")):
        hits = list(_findings(ast.parse(path.read_text())))
        if hits:
            found[path.relative_to(source).as_posix()] = hits
    return found


def test_the_scan_sees_each_kind_of_call() -> None:
    code = (
        "import ctypes, importlib, subprocess, os\nimport onnxruntime\n"
        "ctypes.CDLL('x')\nctypes.cdll.LoadLibrary('x')\nimportlib.import_module('m')\n"
        "subprocess.Popen(['x'])\nsubprocess.run(['x'])\nos.execv('x', [])\n"
        "run_command(['x'], 1, 'x')\nself.run(1)\nctypes.CDLL(None, use_errno=True)\n"
    )
    kinds = [(kind, line) for kind, line, _ in _findings(ast.parse(code))]
    assert kinds == [
        ("import", 2), ("load", 3), ("load", 4), ("import", 5), ("spawn", 6), ("spawn", 7),
        ("spawn", 8), ("spawn", 9),
    ]  # fmt: skip


def test_native_code_is_loaded_and_run_only_through_the_choke_point() -> None:
    found = scan()
    assert CHOKE_POINT in found  # the scan sees the choke point's own loads
    loads = {m: h for m, h in found.items() if m != CHOKE_POINT and any(k == "load" for k, *_ in h)}
    assert not loads, f"libraries loaded outside {CHOKE_POINT}: {loads}"
    onnxruntime = {
        m: h
        for m, h in found.items()
        if m != CHOKE_POINT and any(c == "import onnxruntime" for *_, c in h)
    }
    assert not onnxruntime, f"onnxruntime imported outside {CHOKE_POINT}: {onnxruntime}"
    others = {m: h for m, h in found.items() if m != CHOKE_POINT and m not in TRUSTED}
    assert not others, (
        f"processes started or modules imported by name outside {CHOKE_POINT}: {others}; "
        f"run distribution code with runtime.untrusted.run_confined, or list a trusted tool "
        f"in {Path(__file__).name}"
    )
    stale = sorted(TRUSTED.keys() - found.keys())
    assert not stale, f"{Path(__file__).name} lists modules that start nothing any more: {stale}"


def test_every_confined_child_takes_its_request_first() -> None:
    """A module run as a child (``if __name__ == "__main__"``) receives its request and channel
    through ``receive()``: the nonce is read before the library loads."""
    missing = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "__main__.py" or path.relative_to(SOURCE).as_posix() in NOT_CHILDREN:
            continue
        tree = ast.parse(path.read_text())
        mains = [
            n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)
        ]
        calls = {_name(n.func)[-1:] for n in ast.walk(tree) if isinstance(n, ast.Call)}
        if mains and ("receive",) not in calls:
            missing.append(path.relative_to(SOURCE).as_posix())
    assert not missing, f"child entry points that do not call receive(): {missing}"
