"""Every write under python/ort_wrapper goes through the one writer (``files.py``: atomic_file,
write_file, write_json_atomic, copy_file, publish, new_directory), or is an exception listed
below with the reason it is safe.

The scan reads each module's syntax tree for the calls that create or replace files: ``open``
with a writing mode, ``os.open`` with a writing flag, ``Path.write_text``/``write_bytes``/
``touch``/``symlink_to``/``hardlink_to``, a one-argument ``.rename``/``.replace`` (a Path's),
``os.rename``/``replace``/``link``/``symlink``, ``shutil.copy*``/``move``, ``np.save*``,
``.tofile``, ``json.dump``/``pickle.dump`` and a zip or tar archive opened for writing. A
handle writer (``json.dump``, ``np.save``) inside ``with atomic_file(...)`` is the writer's.
A new write fails until it uses the writer or is listed; an entry that no longer matches
anything fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "python" / "ort_wrapper"
WRITER = "files.py"

_PATH_WRITES = {"write_text", "write_bytes", "touch", "symlink_to", "hardlink_to", "tofile"}
_MODULE_WRITES = {
    "os": {"rename", "renames", "replace", "link", "symlink"},
    "shutil": {"copy", "copy2", "copyfile", "copytree", "move"},
    "np": {"save", "savez", "savez_compressed", "savetxt"},
    "json": {"dump"},
    "pickle": {"dump"},
}
_HANDLE_WRITES = {"np.save", "np.savez", "np.savez_compressed", "np.savetxt", "json.dump"}
_OS_WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}

# (module, call) -> why it may write without the writer. Each is scratch space or a cache
# this project owns, never a path a user named and never a distribution's or model's file.
ALLOWED = {
    ("cli/main_doctor.py", "os.open(write)"): "/dev/null, put in place of a closed stdout",
    ("bundle/links.py", "symlink_to"): "the core library's link names, inside the directory "
    "new_directory made for the bundle",
    ("bundle/wheel.py", "zipfile.ZipFile(w)"): "the plain wheel, in the temporary directory "
    "that make_wheel makes inside --out-dir and removes; publish moves the result out",
    ("finalize/archives.py", "symlink_to"): "short names for ar's MRI script, in the merge's "
    "own scratch folder",
    ("finalize/archives.py", "write_bytes"): "the members kept, extracted into the scratch "
    "folder keep_members makes",
    ("finalize/stage.py", "symlink_to"): "the prefix's relative symlinks, recreated inside "
    "the directory new_directory made",
    ("check/capi.py", "write_text"): "the C test program, in check's own temporary directory",
    ("runtime/capi/static.py", "write_text"): "runner.c, in the scratch folder of the link",
    ("lab/chroot.py", "open(a)"): "the lab's build log, under cache_root()",
    ("lab/chroot.py", "shutil.copy2"): "resolv.conf into the chroot being staged under "
    "cache_root()",
    ("lab/chroot.py", "write_text"): "the chroot's ready stamp, under cache_root()",
    ("lab/chroot.py", ".rename(1)"): "the staged chroot into place, under cache_root()",
    ("lab/shared_cache.py", "open(a)"): "the cache-use line, appended to the lab's build log",
    ("lab/source.py", "open(wb)"): "a download, into the lab's download cache",
    ("lab/source.py", ".replace(1)"): "a verified download into the lab's cache",
    ("lab/paths.py", "open(w)"): "the lab's lock file, under cache_root()",
    ("lab/trees.py", "write_text"): "the lab's stamps, under cache_root()",
    ("lab/cmake_build.py", "shutil.copytree"): "the build shims, into the lab's chroot",
    ("lab/trees.py", ".rename(1)"): "the lab's build and install trees, moved within its cache",
    ("lab/reduced.py", "write_text"): "the reduced build's config, inside the lab's chroot",
    ("lab/reduced.py", "shutil.copyfile"): "the models, into the lab's chroot",
    ("lab/reduced.py", "shutil.copytree"): "this package, into the lab's chroot",
}


def _mode(node: ast.Call, position: int) -> str | None:
    """The constant mode argument of an ``open``-like call, if any."""
    args = [
        *node.args[position : position + 1],
        *(k.value for k in node.keywords if k.arg == "mode"),
    ]
    return next((a.value for a in args if isinstance(a, ast.Constant)), None)


def _written(node: ast.Call) -> str | None:
    """The kind of write ``node`` is (None: not a write)."""
    func = node.func
    if isinstance(func, ast.Name) and func.id == "open":
        mode = _mode(node, 1)
        return f"open({mode})" if mode and set(mode) & set("wax+") else None
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value.id if isinstance(func.value, ast.Name) else None
    if owner == "os" and func.attr == "open":
        flags = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        return "os.open(write)" if flags & _OS_WRITE_FLAGS else None
    if owner in _MODULE_WRITES and func.attr in _MODULE_WRITES[owner]:
        return f"{owner}.{func.attr}"
    if owner in ("zipfile", "tarfile") and func.attr in ("ZipFile", "open"):
        mode = _mode(node, 1)
        return f"{owner}.{func.attr}({mode})" if mode and set(mode) & set("wax") else None
    if func.attr in _PATH_WRITES:
        return func.attr
    if func.attr in ("rename", "replace") and len(node.args) == 1 and not node.keywords:
        return f".{func.attr}(1)"
    return None


def _atomic_blocks(tree: ast.AST) -> set[int]:
    """The ids of the calls inside ``with atomic_file(...)`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
            isinstance(item.context_expr, ast.Call)
            and getattr(item.context_expr.func, "id", None) == "atomic_file"
            for item in node.items
        ):
            inside |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return inside


def _writes(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Each write in ``tree`` outside the writer, with its line."""
    through_writer = _atomic_blocks(tree)
    for node in ast.walk(tree):
        kind = _written(node) if isinstance(node, ast.Call) else None
        if kind is not None and not (kind in _HANDLE_WRITES and id(node) in through_writer):
            yield kind, node.lineno


def test_the_scan_finds_each_kind_of_write() -> None:
    source = (
        "import json, os, shutil\n"
        "open(p, 'w'); open(p, mode='ab'); open(p)\n"
        "p.write_text('x'); p.replace(q); 'a'.replace('a', 'b'); shutil.copy2(a, b)\n"
        "os.open(p, os.O_WRONLY | os.O_CREAT); os.open(p, os.O_RDONLY)\n"
        "json.dump(d, fh)\n"
        "with atomic_file(p) as fh:\n    json.dump(d, fh)\n"
    )
    found = list(_writes(ast.parse(source)))
    assert sorted(found) == sorted(
        [("open(w)", 2), ("open(ab)", 2), ("write_text", 3), (".replace(1)", 3),
         ("shutil.copy2", 3), ("os.open(write)", 4), ("json.dump", 5)]
    )  # fmt: skip


def test_every_write_goes_through_the_writer_or_is_listed() -> None:
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        rel = path.relative_to(SOURCE).as_posix()
        if rel != WRITER:
            for kind, line in _writes(ast.parse(path.read_text())):
                found.setdefault((rel, kind), []).append(line)
    unlisted = {f"{m}:{lines} {k}" for (m, k), lines in found.items() if (m, k) not in ALLOWED}
    assert not unlisted, f"writes that bypass files.py's writer: {sorted(unlisted)}"
    stale = set(ALLOWED) - set(found)
    assert not stale, f"ALLOWED lists writes the code no longer makes: {sorted(stale)}"
