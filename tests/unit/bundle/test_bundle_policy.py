"""The closure follows the policy table: host libraries stay out, the rest is bundled once."""

from __future__ import annotations

from pathlib import Path

from ort_wrapper.bundle.plan import plan_bundle, runpath_for
from ort_wrapper.bundle.source import inspect_source
from ort_wrapper.elf.policy import host_category
from ort_wrapper.runtime.distribution import DistributionKind, locate

from support.bundles import cpu_package, small_elf


def test_runpath_reaches_lib_from_any_directory() -> None:
    assert runpath_for("lib/libz.so.1") == "$ORIGIN"
    assert runpath_for("python/onnxruntime/capi/x.so") == "$ORIGIN:$ORIGIN/../../../lib"
    assert runpath_for("bin/tool") == "$ORIGIN:$ORIGIN/../lib"


def test_cpu_wheel_leaves_glibc_and_the_cxx_runtime_to_the_host() -> None:
    plan = plan_bundle(inspect_source(locate(cpu_package(), strict=False)))
    by_dest = {f.dest: f for f in plan.files}
    assert plan.source.kind is DistributionKind.MODULE and plan.source.variant == "pypi-cpu"
    assert plan.source.version == "1.23.2"
    assert not any(host_category(Path(f.dest).name) for f in plan.files)
    host = {h.soname: h.category for h in plan.host}
    assert host["libc.so.6"] == "glibc" and host["ld-linux-x86-64.so.2"] == "loader"
    assert host["libstdc++.so.6"] == "toolchain" and host["libgcc_s.so.1"] == "toolchain"
    capi = "python/onnxruntime/capi/"
    assert by_dest[capi + "libonnxruntime.so.1.23.2"].reasons == ("part of the distribution",)
    assert len({Path(f.dest).name for f in plan.files if f.elf}) == len(
        [f for f in plan.files if f.elf]
    )  # each library once


def test_gpu_driver_is_never_bundled_even_when_absent(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libuses_driver.so.1", needed=("libcuda.so.1", "libnvidia-ml.so.1"))
    plan = plan_bundle(inspect_source(locate(src, strict=False)))
    assert [f.dest for f in plan.files] == ["lib/libuses_driver.so.1"]
    host = {h.soname: h for h in plan.host}
    assert host["libcuda.so.1"].category == "driver"
    assert host["libnvidia-ml.so.1"].needed_by == ("libuses_driver.so.1",)


def test_companions_dlopened_by_soname_are_bundled(tmp_path: Path) -> None:
    cudnn_dir = tmp_path / "nvidia" / "cudnn" / "lib"
    small_elf(cudnn_dir, "libcudnn.so.9")
    small_elf(cudnn_dir, "libcudnn_ops.so.9")
    small_elf(cudnn_dir, "libcudnn_unrelated.so.8")  # does not match libcudnn_*.so.9
    src = tmp_path / "src"
    small_elf(src, "libprovider.so", needed=("libcudnn.so.9",))
    plan = plan_bundle(inspect_source(locate(src, strict=False)), [cudnn_dir])
    by_dest = {f.dest: f for f in plan.files}
    assert by_dest["lib/libcudnn.so.9"].reasons == ("NEEDED by libprovider.so",)
    assert by_dest["lib/libcudnn.so.9"].found_via == "search-dir"
    ops = by_dest["lib/libcudnn_ops.so.9"]
    assert ops.found_via == "companion"
    assert ops.reasons[0].startswith("dlopened by libcudnn.so.9 (cuDNN 9 loads its sub-libraries")
    assert "lib/libcudnn_unrelated.so.8" not in by_dest
