#!/usr/bin/env bash
# Set up a development environment in .venv: the ort-wrapper package (editable) with the CPU
# ONNX Runtime wheel (extra `cpu`) and its test extras, and the Debian packages the tests use.
# Safe to run again: it only adds what is missing. Used by run.sh and test.sh; nothing else
# needs to be installed by hand. bubblewrap is optional at run time: confined children use it as
# their sandbox where it works (docs/trust-model.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

apt_packages=(patchelf binutils nix-bin debootstrap patch xz-utils pkgconf clang llvm lld cmake
  libc++-dev libc++abi-dev bubblewrap ccache redis-server)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.ort-wrapper-setup
if [ ! -f "$stamp" ] || [ python/pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing ort-wrapper (editable) with its test dependencies"
  log=.venv/setup.log
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -e "python[cpu,test]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: pip failed (log above, also in $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
