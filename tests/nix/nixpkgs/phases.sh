# STAND-IN for parts of nixpkgs' genericBuild (pkgs/stdenv/generic/setup.sh), for a derivation's
# environment (tests only).
# `bash phases.sh configure`: nixpkgs' cmakeConfigurePhase (pkgs/by-name/cm/cmake/setup-hook.sh)
# as far as where CMake runs: the preConfigure hook runs in the source root, then cmakeBuildDir
# defaults to build, is created and entered, cmakeDir defaults to .., and cmake configures
# "$cmakeDir" with cmakeFlags (nixpkgs' default flags, compilers and install dirs, left out).
# Usage: [preConfigure=…] [cmakeBuildDir=…] [cmakeDir=…] [cmakeFlags=…] bash phases.sh configure
#        (run from the source root, as after patchPhase)
# `bash phases.sh`: after the build has run, the install hooks, then the fixup phase.
# Usage: out=DIR NIX_BUILD_TOP=DIR sourceRoot=NAME [postInstall=…] [postFixup=…] [dontStrip=1]
#        bash phases.sh          (run from the build directory, as after installPhase)
# The fixup phase does what nixpkgs' does to the files a derivation such as ONNX Runtime's
# installs: strip.sh strips every file under lib/ (and lib32, lib64, libexec, bin, sbin) with
# `strip -S -p` and re-runs ranlib on every archive there, unless dontStrip is set; then
# patchelf --shrink-rpath on every ELF file (patch-shebangs, move-docs and the other hooks
# that do not touch these files are left out). Then postFixup.
set -euo pipefail

run_hook() { # the derivation's hook string, evaluated as runHook does
  local hook="${!1:-}"
  if [ -n "$hook" ]; then eval "$hook"; fi
}

strip_dirs() {
  local dir file
  for dir in lib lib32 lib64 libexec bin sbin; do
    [ -e "$out/$dir" ] || continue
    echo "stripping (with command strip and flags -S -p) in $out/$dir"
    find "$out/$dir" -type f -a '!' -path "$out/lib/debug/*" -print0 |
      while IFS= read -r -d '' file; do strip -S -p "$file" 2>/dev/null || true; done
    find "$out/$dir" -name '*.a' -type f -exec ranlib '{}' \; 2>/dev/null
  done
}

shrink_rpaths() { # nixpkgs' patchelf setup hook: every ELF file of the output
  local file
  find "$out" -type f -print0 | while IFS= read -r -d '' file; do
    if [ "$(head -c 4 "$file")" = $'\x7fELF' ]; then
      patchelf --shrink-rpath "$file" 2>/dev/null || true
    fi
  done
}

configure_phase() {
  run_hook preConfigure
  : "${cmakeBuildDir:=build}"
  mkdir -p "$cmakeBuildDir"
  cd "$cmakeBuildDir"
  : "${cmakeDir:=..}"
  # shellcheck disable=SC2086 # a derivation's cmakeFlags is one space-separated string
  cmake "$cmakeDir" ${cmakeFlags:-}
}

if [ "${1:-}" = configure ]; then
  configure_phase
  exit
fi
run_hook postInstall
if [ -z "${dontStrip:-}" ]; then strip_dirs; fi
shrink_rpaths
run_hook postFixup
