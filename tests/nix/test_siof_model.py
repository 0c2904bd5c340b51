"""A 40-line C++ model of the static-CUDA problem and of what patches 0002 and 0003 change.

Not ONNX Runtime: three translation units shaped like its core (a host object behind an
interface), its provider bridge (wrappers with the core's names that call through the host) and
libonnxruntime_providers_shared (the host pointer store). Linked statically with the host's
compiler, they show the two faults docs/static-cuda-hang.md describes, and that the patched
scheme (a constant-initialised host pointer, the bridge in a namespace of its own) has neither,
whatever the link order. A CUDA build of ORT itself is still needed to confirm the real thing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CORE = """
namespace onnxruntime {
struct ProviderHost { virtual int cpu() = 0; virtual int shape_of(int) = 0; };
inline int Shape(int x) { return x; }
struct Impl : ProviderHost {
  int cpu() override { return 42; }
  int shape_of(int x) override { return Shape(x); }  // like ProviderHostImpl::Tensor__Shape
} provider_host_;
extern "C" ProviderHost* const ort_static_provider_host = &provider_host_;  // patch 0002
int core_shape(int x) { return Shape(x); }
}
"""
# Upstream's libonnxruntime_providers_shared: the pointer the core sets when it loads the bridge.
STORE = """
namespace onnxruntime { struct ProviderHost; }
onnxruntime::ProviderHost* g_host_store{};
extern "C" onnxruntime::ProviderHost* Provider_GetHost() { return g_host_store; }
"""
# Upstream's bridge: the host pointer comes from a dynamic initialiser.
BRIDGE_UPSTREAM = """
namespace onnxruntime {
struct ProviderHost { virtual int cpu() = 0; virtual int shape_of(int) = 0; };
extern "C" ProviderHost* Provider_GetHost();
ProviderHost* g_host = Provider_GetHost();
int early = g_host->cpu();
int bridge_shape(int x) { return g_host->shape_of(x); }
}
"""
# The patched bridge: every use reads the core's constant-initialised pointer; its wrapper
# `Shape` has the same name as the core's.
BRIDGE_PATCHED = """
namespace onnxruntime {
struct ProviderHost { virtual int cpu() = 0; virtual int shape_of(int) = 0; };
extern "C" ProviderHost* const ort_static_provider_host;
#define g_host ort_static_provider_host
inline int Shape(int x) { return g_host->shape_of(x); }
int early = g_host->cpu();
int bridge_shape(int x) { return Shape(x); }
}
"""
MAIN = """
#include <cstdio>
namespace onnxruntime { int core_shape(int); }
namespace BRIDGE_NS { extern int early; int bridge_shape(int); }
int main() {
  std::printf("early=%d core=%d bridge=%d\\n", BRIDGE_NS::early, onnxruntime::core_shape(7),
              BRIDGE_NS::bridge_shape(7));
}
"""
RENAMED_NS = "onnxruntime_static_cuda"
RENAME = f"-Donnxruntime={RENAMED_NS}"  # patch 0003's compile definition
GOOD = "early=42 core=7 bridge=7\n"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    tmp = tmp_path_factory.mktemp("siof")

    def compile_(name: str, source: str, *flags: str) -> Path:
        (tmp / f"{name}.cc").write_text(source)
        obj = tmp / f"{name}.o"
        subprocess.run(
            ["g++", "-O0", *flags, "-c", str(tmp / f"{name}.cc"), "-o", str(obj)], check=True
        )
        return obj

    def link_and_run(objects: list[Path], bridge_ns: str) -> subprocess.CompletedProcess[str]:
        main = compile_(f"main_{bridge_ns}", MAIN, f"-DBRIDGE_NS={bridge_ns}")
        exe = tmp / f"prog{len(list(tmp.glob('prog*')))}"
        subprocess.run(["g++", str(main), *map(str, objects), "-o", str(exe)], check=True)
        return subprocess.run([str(exe)], capture_output=True, text=True, timeout=10)

    objects = {
        "core": compile_("core", CORE),
        "store": compile_("store", STORE),
        "upstream": compile_("bridge_upstream", BRIDGE_UPSTREAM, RENAME),
        "patched_same_ns": compile_("bridge_same_ns", BRIDGE_PATCHED),
        "patched": compile_("bridge_patched", BRIDGE_PATCHED, RENAME),
    }
    return objects, link_and_run


def test_upstream_bridge_linked_statically_dies_before_main(build) -> None:
    objects, link_and_run = build
    done = link_and_run([objects["core"], objects["store"], objects["upstream"]], RENAMED_NS)
    assert done.returncode < 0  # killed by a signal (SIGSEGV) in a static initialiser
    assert done.stdout == ""


def test_same_named_wrappers_loop_depending_on_link_order(build) -> None:
    objects, link_and_run = build
    core_first = link_and_run([objects["core"], objects["patched_same_ns"]], "onnxruntime")
    bridge_first = link_and_run([objects["patched_same_ns"], objects["core"]], "onnxruntime")
    assert core_first.stdout == GOOD
    # The linker kept the wrapper's Shape for everyone: core -> host -> wrapper -> host ...
    assert bridge_first.returncode < 0


def test_patched_scheme_works_in_either_link_order(build) -> None:
    objects, link_and_run = build
    for order in ([objects["core"], objects["patched"]], [objects["patched"], objects["core"]]):
        done = link_and_run(order, RENAMED_NS)
        assert (done.returncode, done.stdout) == (0, GOOD)


def test_the_host_pointer_needs_no_dynamic_initialiser(build) -> None:
    objects, _ = build
    symbols = subprocess.run(
        ["nm", str(objects["core"])], capture_output=True, text=True, check=True
    ).stdout
    assert "ort_static_provider_host" in symbols
    assert "_GLOBAL__sub_I" not in symbols
