"""The Debian packages that data/sonames.json names, checked against Debian's real package
lists (trixie's contrib and non-free, where CUDA lives; fetched and verified by apt, cached):
each named package, installed with apt's defaults, brings a file of that soname, and no soname
left without a package is shipped by one.

(trixie's main is not checked: its Contents file on this project's mirror does not match the
signed Release file, so apt refuses it; no soname of the table is in main.)"""

from __future__ import annotations

import pytest

from ort_wrapper.runtime.catalog import known_sonames, soname_source

from support.debian_lists import DebianLists, debian_lists

SUITE, COMPONENTS = "trixie", ("contrib", "non-free")


@pytest.fixture(scope="module")
def lists() -> DebianLists:
    return debian_lists(SUITE, COMPONENTS)


@pytest.fixture(scope="module")
def owners(lists: DebianLists) -> dict[str, set[str]]:
    return lists.owners(known_sonames())


def test_the_lists_are_real(owners: dict[str, set[str]]) -> None:
    """Control: the lists hold what every CUDA 12 host has (libcudart12 ships libcudart.so.12)."""
    assert "libcudart12" in owners["libcudart.so.12"]


@pytest.mark.parametrize("soname", known_sonames())
def test_the_debian_package_of_each_soname(
    soname: str, lists: DebianLists, owners: dict[str, set[str]]
) -> None:
    package = soname_source(soname).debian
    if package is None:
        assert not owners[soname], (
            f"{soname} has no Debian package in the table; {SUITE} has {owners[soname]}"
        )
        return
    assert owners[soname], f"no {SUITE} package ({', '.join(COMPONENTS)}) ships {soname}"
    brought = lists.installs(package)
    assert package in brought, f"{SUITE} has no package {package}"
    assert brought & owners[soname], (
        f"apt install {package} does not bring {soname} (shipped by {sorted(owners[soname])})"
    )
