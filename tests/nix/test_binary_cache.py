"""A team's binary cache, as docs/build-reference.md shows it, with real Nix (Debian's 2.8): a
distribution built on one machine is signed (``nix store sign``), pushed (``nix copy --to
file://…``) and substituted on another store that cannot build it (``substituters`` +
``trusted-public-keys``); without the key the other store refuses it. The substituted output
then passes ``ort-wrapper check --only linking``'s manifest sha256 check, and fails it, naming
the file, once a file is changed.

The distribution is a small static one (``static_prefix``: a real archive and its manifest);
the derivation only copies it (the stand-in nixpkgs builds
nothing, and ORT's own build is hours).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from unit.check.check_prefixes import static_prefix

from support.nix import NIX_CONFIG

pytestmark = [
    pytest.mark.nix,
    pytest.mark.skipif(
        shutil.which("nix") is None or shutil.which("cc") is None, reason="needs nix and cc"
    ),
]

# Copies the distribution into $out with the host's tools (no sandbox, as the tests' Nix runs):
# only the store that builds it needs them; the other store can only substitute.
EXPR = """
derivation {
  name = "onnxruntime-cpu-team-cache";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "/bin/cp -r ${builtins.path { path = %s; name = "dist"; }} $out" ];
}
"""


def _nix(
    env: dict[str, str], *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["nix", *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode:
        raise AssertionError(f"nix {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def _digest_check(dist: Path, tmp: Path) -> dict[str, Any]:
    report = tmp / f"report-{len(list(tmp.glob('report-*')))}.json"
    subprocess.run(
        [sys.executable, "-m", "ort_wrapper.cli", "check", "--dist", str(dist),
         "--only", "linking", "--json", str(report)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    sections = json.loads(report.read_text())["sections"]
    checks = next(s for s in sections if s["name"] == "linking")["checks"]
    return next(c for c in checks if c["name"] == "manifest sha256")


def test_a_signed_output_is_substituted_and_checked_on_another_machine(tmp_path: Path) -> None:
    if not os.access("/nix/store", os.W_OK) and not os.access("/nix", os.W_OK) and os.getuid():
        pytest.skip("building into /nix/store needs root or a writable /nix")
    env = dict(os.environ, NIX_CONFIG=NIX_CONFIG, HOME=str(tmp_path / "home"))
    expr = EXPR % json.dumps(str(static_prefix(tmp_path / "dist")))
    secret = _nix(env, "key", "generate-secret", "--key-name", "team-cache-1").stdout
    (tmp_path / "secret").write_text(secret)
    public_key = _nix(env, "key", "convert-secret-to-public", stdin=secret).stdout.strip()
    built = json.loads(_nix(env, "build", "--impure", "--no-link", "--json", "--expr", expr).stdout)
    out = built[0]["outputs"]["out"]
    cache = f"file://{tmp_path / 'cache'}"
    _nix(env, "store", "sign", "--key-file", str(tmp_path / "secret"), out)
    _nix(env, "copy", "--to", cache, out)

    other = str(tmp_path / "machine-b")  # a store whose chroot has no /bin/sh: it cannot build
    fetch = ["build", "--impure", "--no-link", "--json", "--store", other, "--expr", expr,
             "--option", "substituters", cache]  # fmt: skip
    refused = _nix(env, *fetch, check=False)
    assert refused.returncode != 0 and not (Path(other) / out.lstrip("/")).exists()
    assert "is not signed by any of the keys in 'trusted-public-keys'" in refused.stderr
    fetched = json.loads(_nix(env, *fetch, "--option", "trusted-public-keys", public_key).stdout)
    assert fetched[0]["outputs"]["out"] == out  # the same output path on both machines
    signatures = _nix(env, "path-info", "--store", other, "--sigs", out).stdout
    assert "team-cache-1:" in signatures

    substituted = Path(other) / out.lstrip("/")
    check = _digest_check(substituted, tmp_path)
    assert check["status"] == "pass", check
    copy = tmp_path / "edited"
    shutil.copytree(substituted, copy, symlinks=True)
    edited = copy / "lib" / "libonnxruntime_session.a"
    edited.chmod(0o644)
    edited.write_bytes(edited.read_bytes() + b"\n")
    check = _digest_check(copy, tmp_path)
    assert check["status"] == "fail" and "lib/libonnxruntime_session.a" in check["detail"]
