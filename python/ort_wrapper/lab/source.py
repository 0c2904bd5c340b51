"""Source tarballs from a Debian mirror's pool (ONNX Runtime's, and those of the libraries the lab
builds statically), verified by sha256, and unpacked."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError, LabEnvironmentError
from ..files import sha256_file
from ..progress import Progress

__all__ = [
    "DEFAULT_MIRROR",
    "OrtSource",
    "fetch_source",
    "known_source",
    "known_versions",
    "mirror",
    "unpack_tarball",
]

log = logging.getLogger(__name__)

DEFAULT_MIRROR = "http://deb.debian.org/debian"
_SOURCES = Path(__file__).with_name("sources.json")


@dataclass(frozen=True)
class OrtSource:
    """A release as a Debian orig tarball (ONNX Runtime's, or a dependency's): where it lies
    and what it must hash to."""

    version: str
    suite: str  # the Debian suite whose -dev packages match this source
    pool: str  # path under the mirror
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return self.pool.rsplit("/", 1)[-1]


def mirror() -> str:
    """The Debian mirror: ``$ORT_BUILDER_DEBIAN_MIRROR`` or deb.debian.org."""
    return os.environ.get("ORT_BUILDER_DEBIAN_MIRROR", DEFAULT_MIRROR).rstrip("/")


def _table() -> dict[str, dict[str, object]]:
    return json.loads(_SOURCES.read_text())


def known_versions() -> tuple[str, ...]:
    """The ORT versions whose source the lab has pinned."""
    return tuple(_table())


def known_source(version: str) -> OrtSource:
    """The pinned source of ``version``; BuildError lists the versions the lab knows."""
    table = _table()
    if version not in table:
        raise BuildError(
            f"the lab has no pinned source for ONNX Runtime {version} "
            f"(known: {', '.join(sorted(table))}; add it to {_SOURCES.name})"
        )
    return OrtSource(version=version, **table[version])


def fetch_source(source: OrtSource, downloads: Path) -> Path:
    """Download the tarball into ``downloads`` (once) and verify its size and sha256.

    An unreachable mirror is a LabEnvironmentError; a tarball with the wrong hash is a
    BuildError (the pin or the mirror is wrong, and nothing is built from it).
    """
    target = downloads / source.filename
    if target.is_file() and sha256_file(target) == source.sha256:
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    url = f"{mirror()}/{source.pool}"
    # a name of its own, so concurrent downloads of one tarball never write the same file
    fd, tmp = tempfile.mkstemp(prefix=f".{source.filename}.", suffix=".part", dir=downloads)
    partial = Path(tmp)
    log.info("downloading %s", url)
    try:
        with (
            open(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=60) as response,
            Progress(f"download {source.filename}", source.size, unit="B") as bar,
        ):
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.advance(len(block))
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise LabEnvironmentError(f"cannot download {url}: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    got, size = sha256_file(partial), partial.stat().st_size
    if got != source.sha256 or size != source.size:
        partial.unlink()
        raise BuildError(
            f"{url}: sha256 {got} ({size} bytes) "
            f"does not match the pin {source.sha256} ({source.size} bytes)"
        )
    partial.chmod(0o644)
    partial.replace(target)
    return target


def unpack_tarball(tarball: Path, target: Path) -> None:
    """Unpack ``tarball`` into ``target``, without its top-level folder."""
    argv = ["tar", "-xf", str(tarball), "-C", str(target), "--strip-components=1"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BuildError(f"cannot unpack {tarball.name}: {done.stderr.strip()}")
