"""Hostile native code: libraries compiled here whose constructors leave a marker, print a fake
probe result or fork a grandchild. Verbs that only need facts refuse what reading shows is not
ONNX Runtime (or would make the loader leave the distribution) without loading it; where a
library runs, its prints are not its result, its grandchildren and temporary files die with
the call, and the sandbox (bubblewrap, where usable) keeps the file system read-only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ort_wrapper.bundle.patch import patchelf
from ort_wrapper.check.options import CheckOptions
from ort_wrapper.check.run import run_check
from ort_wrapper.elf.exports import exports
from ort_wrapper.runtime.capi.probe import probe_shared
from ort_wrapper.runtime.untrusted import SANDBOX_ENV, Sandbox, sandbox

from helpers import CLI
from support.hostile import cli, python_env, running_below

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="ELF shared libraries")

ORT = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static const void* table[4];
static const void* get_api(uint32_t v) { return %(api)s; }
static const char* version(void) { return "1.23.2"; }
typedef struct { const void* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); } Base;
static const Base base = {get_api, version};
const Base* OrtGetApiBase(void) { return &base; }
"""
NOT_ORT = "int not_onnxruntime(void) { return 0; }\n"
MARK = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
  FILE* f = fopen("%(marker)s", "a"); if (f) { fprintf(f, "%%d\n", (int)getpid()); fclose(f); }
}
"""
FAKE_RESULT = r"""
static void lie(void) {
  printf("{\"api_ok\": true, \"version\": \"1.23.2\", \"api\": 23}\n"); fflush(stdout);
  for (int fd = 3; fd < 64; ++fd) dprintf(fd, "{\"api_ok\": true, \"version\": \"1.23.2\"}\n");
}
__attribute__((constructor)) static void lie_on_load(void) { lie(); }
__attribute__((destructor)) static void lie_on_exit(void) { lie(); }  /* after the real answer */
"""
GRANDCHILD = r"""
__attribute__((constructor)) static void linger(void) {
  if (fork() == 0) {
    FILE* f = fopen("%(marker)s", "w"); if (f) { fprintf(f, "%%d\n", (int)getpid()); fclose(f); }
    sleep(600); _exit(0);
  }
}
"""


def _compile(path: Path, source: str) -> Path:
    """A shared library at ``path`` built from the C ``source``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    c = path.with_name(path.name + ".c")
    c.write_text(source)
    subprocess.run(["cc", "-shared", "-fPIC", str(c), "-o", str(path)], check=True)
    c.unlink()
    return path


def _ort(path: Path, *extra: str, api: str = "(const void*)table", **fmt: str) -> Path:
    """A fake ONNX Runtime (exports OrtGetApiBase; version 1.23.2) with constructors ``extra``."""
    body = ORT % {"api": api} + "".join(e % fmt if fmt else e for e in extra)
    return _compile(path, body)


def _unsandboxed() -> dict[str, str]:
    """The environment of a child with no sandbox: whatever it loads could write anywhere, so
    a marker it does not write proves it was not loaded."""
    return python_env(**{SANDBOX_ENV: "off"})


def _gone(pid: int) -> bool:
    """Whether ``pid`` ended (a zombie counts); SIGKILL is delivered asynchronously, so this
    waits up to a minute for it (a survivor sleeps ten)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=["off", "bubblewrap"])
def confinement(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each confined-child test runs without and with the sandbox."""
    monkeypatch.setenv(SANDBOX_ENV, request.param)
    if request.param == "bubblewrap":
        try:
            sandbox()
        except Exception as exc:
            pytest.skip(f"no usable bubblewrap here: {exc}")
    return request.param


@pytest.mark.parametrize("verb", ["bundle", "check", "doctor", "info"])
def test_a_library_that_is_not_ort_is_never_loaded(tmp_path: Path, verb: str) -> None:
    marker = tmp_path / "loaded"
    src = tmp_path / "plain"
    _compile(src / "libonnxruntime.so", NOT_ORT + MARK % {"marker": marker})
    args = {
        "bundle": ["bundle", str(src), "--out", str(tmp_path / "out")],
        "check": ["check", "--only", "linking", "--dist", str(src)],
        "doctor": ["doctor", "--dist", str(src)],
        "info": ["info", "--dist", str(src)],
    }[verb]
    done = cli(*args, env=_unsandboxed())
    output = done.stdout + done.stderr
    assert "does not export OrtGetApiBase" in output, output
    assert not marker.exists(), f"{verb} loaded it: {output}"
    assert "Traceback" not in output, output


def test_a_dt_needed_path_is_refused_before_anything_loads(tmp_path: Path) -> None:
    marker = tmp_path / "loaded"
    _compile(tmp_path / "evil.so", MARK % {"marker": marker})
    src = tmp_path / "a" / "b"
    core = _ort(src / "libonnxruntime.so")
    subprocess.run([patchelf(), "--add-needed", "../../evil.so", str(core)], check=True)
    bundle = ["bundle", str(src), "--out", str(tmp_path / "out")]
    for args in (bundle, ["info", "--dist", str(src)]):
        done = cli(*args, env=_unsandboxed(), cwd=src)
        output = done.stdout + done.stderr
        assert done.returncode != 0 and "'../../evil.so'" in output, output
        assert not marker.exists(), f"{args[0]} loaded ../../evil.so: {output}"


@pytest.mark.parametrize("how", ["directory", "manifest"])
def test_a_library_leading_out_of_its_folder_is_not_loaded(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "loaded"
    outside = _ort(tmp_path / "elsewhere" / "libonnxruntime.so.1", MARK, marker=str(marker))
    src = tmp_path / "dist"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "libonnxruntime.so.1").symlink_to(outside)
    if how == "manifest":
        manifest = {
            "schema": 1, "name": "onnxruntime", "version": "1.23.2", "variant": "hostile",
            "linkMode": "shared", "providers": ["CPUExecutionProvider"],
            "files": [{"path": "lib/libonnxruntime.so.1", "kind": "shared", "sha256": "0" * 64}],
        }  # fmt: skip
        (src / "share/ort-wrapper").mkdir(parents=True)
        (src / "share/ort-wrapper/manifest.json").write_text(json.dumps(manifest))
    done = cli("info", "--dist", str(src), env=_unsandboxed())
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "outside its distribution" in output, output
    assert not marker.exists(), output


def test_prints_from_the_library_are_not_the_probe_result(tmp_path: Path, confinement: str) -> None:
    core = _ort(tmp_path / "lib" / "libonnxruntime.so", FAKE_RESULT, api="NULL")
    result = probe_shared(core, tmp_path / "lib", 23)
    assert result.version == "1.23.2" and not result.api_ok, result
    report = run_check(tmp_path / "lib", CheckOptions(sections=("linking",), quiet=True))
    (capi,) = [c for c in report.sections[0].checks if c.name.startswith("C API")]
    assert capi.status == "fail" and "returned NULL" in capi.detail, capi


def test_a_grandchild_holding_stdout_does_not_hold_the_probe(
    tmp_path: Path, confinement: str
) -> None:
    marker = tmp_path / "grandchild"
    core = _ort(tmp_path / "lib" / "libonnxruntime.so", GRANDCHILD, marker=str(marker))
    result = probe_shared(core, tmp_path / "lib", 23)
    assert result.error is None and result.api_ok, result
    if confinement == "off":  # the sandbox's grandchild writes into its private /tmp
        assert _gone(int(marker.read_text())), "the grandchild outlived the probe"


def test_the_sandbox_keeps_the_file_system_read_only(tmp_path: Path, confinement: str) -> None:
    marker = tmp_path / "written"
    core = _ort(tmp_path / "lib" / "libonnxruntime.so", MARK, marker=str(marker))
    result = probe_shared(core, tmp_path / "lib", 23)
    assert result.api_ok, result
    assert marker.exists() == (confinement == "off")  # it ran in both; only the sandbox held it


@pytest.mark.parametrize("mode", ["off", "auto"])
def test_sigterm_to_check_ends_its_worker_and_its_temporary_folder(
    tmp_path: Path, mode: str
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [*CLI, "check", "--only", "stability", "--runs", "100000000", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=python_env(TMPDIR=str(tmp), **{SANDBOX_ENV: mode}),
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not (workers := running_below(proc.pid, "ort_wrapper.check.worker")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "terminated" in err, err
    assert "Traceback" not in err, err
    assert all(_gone(pid) for pid in workers), "the worker outlived check"
    assert list(tmp.iterdir()) == [], "check left its temporary files"


def test_the_sandbox_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SANDBOX_ENV, "maybe")
    with pytest.raises(Exception, match="expected auto, off or bubblewrap"):
        sandbox()
    monkeypatch.setenv(SANDBOX_ENV, "off")
    assert sandbox() is Sandbox.PROCESS_GROUP


HANG = r"""
__attribute__((constructor)) static void hang(void) {
  FILE* f = fopen("%(marker)s", "w"); if (f) { fprintf(f, "%%d\n", (int)getpid()); fclose(f); }
  sleep(600);
}
"""


def test_a_probe_dies_with_its_parent(tmp_path: Path) -> None:
    """The parent killed outright (no cleanup of its own runs): the kernel ends its child."""
    marker = tmp_path / "child"
    core = _ort(tmp_path / "lib" / "libonnxruntime.so", HANG, marker=str(marker))
    code = (
        "from pathlib import Path\nfrom ort_wrapper.runtime.capi.probe import probe_shared\n"
        f"probe_shared(Path({str(core)!r}), Path({str(core.parent)!r}), 23)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env=_unsandboxed())
    deadline = time.monotonic() + 120
    while not marker.exists() or not marker.read_text().endswith("\n"):
        assert parent.poll() is None and time.monotonic() < deadline, "the probe never started"
        time.sleep(0.05)
    parent.kill()
    parent.wait()
    assert _gone(int(marker.read_text())), "the probe outlived its parent"


FDS = r"""
#include <dirent.h>
__attribute__((constructor)) static void list_fds(void) {
  FILE* f = fopen("%(marker)s", "w");
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  char link[64], target[512];
  while (f && d && (e = readdir(d)) != NULL) {
    snprintf(link, sizeof link, "/proc/self/fd/%%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) { target[n] = 0; fprintf(f, "%%s %%s\n", e->d_name, target); }
  }
  if (d) closedir(d);
  if (f) fclose(f);
}
"""


def test_the_probe_inherits_no_descriptor_but_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only stdin (/dev/null by then), stdout, stderr and the result channel (a pipe) reach
    the library: not a descriptor the caller holds open. (No sandbox: its private /tmp would
    keep the list from this test.)"""
    monkeypatch.setenv(SANDBOX_ENV, "off")
    marker = tmp_path / "fds"
    secret = tmp_path / "secret"
    secret.write_text("the caller's")
    core = _ort(tmp_path / "lib" / "libonnxruntime.so", "#include <stdio.h>\n" + FDS,
                marker=str(marker))  # fmt: skip
    with secret.open() as held:
        os.set_inheritable(held.fileno(), True)
        assert probe_shared(core, core.parent, 23).api_ok
    targets = [line.split(" ", 1)[1] for line in marker.read_text().splitlines()]
    assert str(secret) not in targets, targets
    pipes = [t for t in targets if t.startswith("pipe:")]
    assert targets[0] == os.devnull and len(pipes) == 1, targets


@pytest.mark.parametrize("style", ["gnu", "sysv"])
def test_exports_reads_what_the_loader_would_find(tmp_path: Path, style: str) -> None:
    """Defined and exported counts; a library that only calls OrtGetApiBase, or keeps it
    hidden, does not export it."""
    sources = {
        "defines": ORT % {"api": "NULL"},
        "calls": "extern void* OrtGetApiBase(void);\nvoid* f(void) { return OrtGetApiBase(); }\n",
        "hides": '__attribute__((visibility("hidden"))) void* OrtGetApiBase(void) { return 0; }\n',
    }
    found = {}
    for name, source in sources.items():
        c = tmp_path / f"{name}.c"
        c.write_text(source)
        lib = tmp_path / f"lib{name}.so"
        subprocess.run(
            ["cc", "-shared", "-fPIC", f"-Wl,--hash-style={style}", str(c), "-o", str(lib)],
            check=True,
        )
        found[name] = exports(lib, "OrtGetApiBase")
    assert found == {"defines": True, "calls": False, "hides": False}


@pytest.mark.parametrize("cwd", ["/", "/tmp", "."])
def test_the_sandbox_tmp_stays_private_from_any_working_directory(
    tmp_path: Path, confinement: str, cwd: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of the host's /tmp that the child was not given is invisible in the sandbox,
    whatever the working directory (GetApi tells: it answers only when it cannot see it)."""
    secret = tmp_path / "secret"
    secret.write_text("the host's")
    core = _ort(
        tmp_path / "lib" / "libonnxruntime.so",
        api=f'access("{secret}", F_OK) == 0 ? NULL : (const void*)table',
    )
    if cwd != ".":
        monkeypatch.chdir(cwd)
    assert probe_shared(core, core.parent, 23).api_ok == (confinement == "bubblewrap")
