"""Every hunk of patches/ against real ONNX Runtime text: the 1.21.0 source tarball the lab pins
(sha256-checked, the newest ORT source reachable here).

docs/siof-patches.md's per-hunk table says, for each hunk, whether it applies to 1.21.0; the test
applies each variant's series hunk by hunk, exactly (the lab's apply_series, ``--fuzz=0``), each
hunk on the text the hunks before it left, and compares with that column, so the docs cannot
drift from the patches. Then the derivation's own check (pkgs/check-patches.sh) runs on the real
tree, per variant, with exactly the hunks the table says apply there, and must pass; with a
series holding a hunk marked as not applying, it must stop and name that patch.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_flake import MATRIX
from test_patch_series import _check

from ort_wrapper.lab.source_patches import APPLIED, apply_series

from support.nix import ROOT
from support.real_libraries import lab_source_files

pytestmark = pytest.mark.nix

PATCHES = ROOT / "patches"
# Each variant's series, in the order the derivation applies it.
SERIES = {
    name: [PATCHES / p for p in spec["patches"]]
    for name, spec in MATRIX["variants"].items()
    if spec["patches"]
}
DOC = ROOT / "docs" / "siof-patches.md"
CHECK_SCRIPT = ROOT / "pkgs" / "check-patches.sh"
APPLIES, FAILS = "applies", "does not apply"


@dataclass(frozen=True)
class Hunk:
    """One hunk of a patch file, with the file headers it needs to be a patch on its own."""

    patch: str  # e.g. "0001"
    file: str
    number: int  # 1-based, within its file in that patch
    text: str  # "--- a/…\n+++ b/…\n@@ …"

    @property
    def key(self) -> str:
        return f"{self.patch} {self.file} #{self.number}"


def hunks(patch: Path) -> list[Hunk]:
    """The hunks of ``patch`` in order (the free-text header before the first file left out)."""
    found = []
    sections = re.split(r"(?m)^(?=--- a/)", patch.read_text())[1:]
    for section in sections:
        head, _, body = section.partition("\n@@")
        file = re.search(r"(?m)^\+\+\+ b/(\S+)", head)[1]  # type: ignore[index]
        parts = [part for part in re.split(r"(?m)^(?=@@)", "@@" + body) if part]
        for number, hunk in enumerate(parts, start=1):
            found.append(Hunk(patch.name[:4], file, number, f"{head}\n{hunk}"))
    return found


ALL_HUNKS = [h for p in sorted(PATCHES.glob("*.patch")) for h in hunks(p)]


def documented_1_21() -> dict[str, str]:
    """docs/siof-patches.md's per-hunk table: hunk key → its 1.21.0 verdict."""
    table = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and re.fullmatch(r"\d{4} \S+ #\d+", cells[0]):
            verdict = APPLIES if cells[1].startswith(APPLIES) else cells[1]
            table[cells[0]] = FAILS if verdict.startswith(FAILS) else verdict
    return table


@pytest.fixture(scope="module")
def source_1_21(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the series touches, from the real 1.21.0 tarball."""
    if shutil.which("patch") is None:
        pytest.skip("needs GNU patch")
    files = sorted({h.file for h in ALL_HUNKS})
    root = lab_source_files(tmp_path_factory.mktemp("ort-1.21.0"), *files)
    missing = [f for f in files if not (root / f).is_file()]
    assert not missing, f"the 1.21.0 tarball lacks {missing}"
    return root


def test_the_docs_table_lists_every_hunk_once() -> None:
    assert set(documented_1_21()) == {h.key for h in ALL_HUNKS}
    assert len(ALL_HUNKS) == len({h.key for h in ALL_HUNKS})
    assert set(documented_1_21().values()) <= {APPLIES, FAILS}
    in_series = {p for series in SERIES.values() for p in series}
    assert in_series == set(PATCHES.glob("*.patch"))


@pytest.mark.parametrize("variant", sorted(SERIES))
def test_each_hunk_on_1_21_0_is_as_the_docs_say(
    source_1_21: Path, tmp_path: Path, variant: str
) -> None:
    """In series order, each hunk alone, exactly (no fuzz); a hunk that applies is applied, so
    the next sees the text the series would leave."""
    tree = tmp_path / "tree"
    shutil.copytree(source_1_21, tree)
    chosen = [h for p in SERIES[variant] for h in hunks(p)]
    files = []
    for i, hunk in enumerate(chosen):
        files.append(tmp_path / f"{i:03}.patch")
        files[-1].write_text(hunk.text)
    statuses = apply_series(tree, tuple(files))
    seen = {
        h.key: APPLIES if s.status == APPLIED else FAILS
        for h, s in zip(chosen, statuses, strict=True)
    }
    assert seen == {h.key: documented_1_21()[h.key] for h in chosen}


def _filtered(patch: Path, keep: set[str], out: Path) -> Path | None:
    """``patch`` with only the hunks in ``keep``; None when none is kept."""
    chosen = [h for h in hunks(patch) if h.key in keep]
    if not chosen:
        return None
    out.write_text("".join(h.text if h.text.endswith("\n") else h.text + "\n" for h in chosen))
    return out


@pytest.mark.parametrize("variant", sorted(SERIES))
def test_check_patches_passes_on_1_21_0_with_the_hunks_that_apply_there(
    source_1_21: Path, tmp_path: Path, variant: str
) -> None:
    keep = {key for key, verdict in documented_1_21().items() if verdict == APPLIES}
    series = [_filtered(p, keep, tmp_path / p.name) for p in SERIES[variant]]
    assert any(series), f"the docs say no hunk of the {variant} series applies to 1.21.0"
    done = _check(CHECK_SCRIPT.read_text(), source_1_21, *[p for p in series if p is not None])
    assert done.returncode == 0, done.stderr
    assert "every patch applies" in done.stdout


@pytest.mark.parametrize("variant", sorted(SERIES))
def test_check_patches_names_the_first_patch_with_a_hunk_that_does_not_apply(
    source_1_21: Path, variant: str
) -> None:
    failing = {k for k, v in documented_1_21().items() if v == FAILS}
    first = next((p for p in SERIES[variant] if {h.key for h in hunks(p)} & failing), None)
    done = _check(CHECK_SCRIPT.read_text(), source_1_21, *SERIES[variant])
    if first is None:  # the whole series applies to 1.21.0
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode != 0
    assert f"patch series: {first.name} does not apply to this source as written" in done.stderr
