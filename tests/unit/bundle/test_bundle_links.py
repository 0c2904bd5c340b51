"""A bundle names its core library the way linkers and the loader look it up: ``libonnxruntime.so``
(``-lonnxruntime``, as C builds and the ``ort`` crate's ``ort-sys`` link) and its SONAME, as
relative symlinks beside it, recorded in bundle.json; a rerun replaces such a bundle, and a
symlink the bundle did not make is still refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
from ort_wrapper.bundle.links import LINK_NAME, core_links
from ort_wrapper.bundle.record import BundledLink, read_bundle_record
from ort_wrapper.bundle.write import make_bundle, verify_bundle
from ort_wrapper.errors import BundleError

from support.bundles import cpu_package

CAPI = "python/onnxruntime/capi"
CORE = f"{CAPI}/libonnxruntime.so.1.23.2"
VERSION_C = r"""
#include <stdio.h>
typedef struct { const void *(*GetApi)(unsigned); const char *(*GetVersionString)(void); } Base;
const Base *OrtGetApiBase(void);
int main(void) { printf("%s\n", OrtGetApiBase()->GetVersionString()); return 0; }
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the installed CPU wheel (whose capi/ has neither name)."""
    assert not (cpu_package() / "capi" / LINK_NAME).exists()
    out = tmp_path_factory.mktemp("links") / "bundle"
    make_bundle(cpu_package(), out, quiet=True)
    return out


def test_the_core_library_gets_its_link_time_name_and_soname(bundle: Path) -> None:
    for name in (LINK_NAME, "libonnxruntime.so.1"):
        link = bundle / CAPI / name
        assert link.is_symlink() and os.readlink(link) == "libonnxruntime.so.1.23.2"
    assert set(read_bundle_record(bundle).links) == {
        BundledLink(f"{CAPI}/{LINK_NAME}", "libonnxruntime.so.1.23.2"),
        BundledLink(f"{CAPI}/libonnxruntime.so.1", "libonnxruntime.so.1.23.2"),
    }
    assert verify_bundle(bundle) == ()


def test_a_c_program_links_with_minus_l_and_runs(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "v.c").write_text(VERSION_C)
    lib = bundle / CAPI
    cc = [shutil.which("cc") or "cc", str(tmp_path / "v.c"), f"-L{lib}", "-lonnxruntime"]
    subprocess.run([*cc, "-o", str(tmp_path / "v")], check=True)
    ran = subprocess.run(
        [str(tmp_path / "v")], capture_output=True, text=True, env={"LD_LIBRARY_PATH": str(lib)}
    )
    assert (ran.returncode, ran.stdout.strip()) == (0, "1.23.2"), ran.stderr


def test_a_rerun_replaces_the_bundle_but_not_a_foreign_symlink(bundle: Path) -> None:
    make_bundle(cpu_package(), bundle, quiet=True)
    assert (bundle / CAPI / LINK_NAME).is_symlink()
    stray = bundle / CAPI / "libstray.so"
    stray.symlink_to("libonnxruntime.so.1.23.2")
    try:
        with pytest.raises(BundleError, match=r"libstray\.so is not a file an earlier bundle"):
            make_bundle(cpu_package(), bundle, quiet=True)
    finally:
        stray.unlink()


def test_a_name_the_distribution_has_is_left_alone(bundle: Path) -> None:
    taken = {f"{CAPI}/{LINK_NAME}"}
    assert core_links(bundle, CORE, taken) == (
        BundledLink(f"{CAPI}/libonnxruntime.so.1", CORE.split("/")[-1]),
    )
    assert core_links(bundle, None, ()) == ()


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ({"path": "../x.so", "target": "libonnxruntime.so.1.23.2"}, "'..'"),
        ({"path": "lib/x.so", "target": "../../etc/passwd"}, "must name a file beside it"),
        ({"path": "lib/x.so"}, "'target' must be a str"),
        ("lib/x.so", "every entry of 'links' must be an object"),
    ],
)
def test_a_hostile_link_record_is_a_bundle_error(bundle: Path, tmp_path: Path, link, words) -> None:
    copy = tmp_path / "copy"
    (copy / BUNDLE_JSON_RELPATH).parent.mkdir(parents=True)
    data = json.loads((bundle / BUNDLE_JSON_RELPATH).read_text())
    (copy / BUNDLE_JSON_RELPATH).write_text(json.dumps({**data, "links": [link]}))
    with pytest.raises(BundleError, match=BUNDLE_JSON_RELPATH) as caught:
        read_bundle_record(copy)
    assert words in str(caught.value)
