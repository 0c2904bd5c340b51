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
#        [NIX_STORE=DIR] [dontCheckForBrokenSymlinks=1]
#        bash phases.sh          (run from the build directory, as after installPhase)
# The fixup phase runs in nixpkgs' order (setup.sh's fixupPhase): for the output, the
# fixupOutputHooks that touch files such as ONNX Runtime's, in their order: patchELF first
# (patchelf --shrink-rpath on every ELF file), _doStrip last (strip.sh: `strip -S -p` on every
# file under lib/, lib32, lib64, libexec, bin, sbin, then ranlib on every archive there, unless
# dontStrip). Then `runHook postFixup`: the postFixup attribute first, then postFixupHooks:
# noBrokenSymlinksInAllOutputs (a symlink into NIX_STORE, /nix/store by default, whose target
# is missing or itself fails the build) and cmake's cmakePcfileCheckPhase (a .pc file holding
# `}//nix/store` fails it). patch-shebangs, move-docs, _makeSymlinksRelative and the other hooks
# that refuse nothing here are left out.
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

no_broken_symlinks() { # nixpkgs' noBrokenSymlinks hook, for the one output
  local store="${NIX_STORE:-/nix/store}" link target dangling=0 reflexive=0
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    [[ $target == /* ]] || target="$(realpath --no-symlinks --canonicalize-missing "$(dirname "$link")/$target")"
    [[ $target == "$store"/* ]] || continue # outside the store: not its concern
    if [ "$link" = "$target" ]; then
      echo "the symlink $link is reflexive" >&2
      reflexive=$((reflexive + 1))
    elif [ ! -e "$target" ]; then
      echo "the symlink $link points to a missing target: $target" >&2
      dangling=$((dangling + 1))
    fi
  done < <(find "$out" -type l -print0)
  if ((dangling > 0 || reflexive > 0)); then
    echo "found $dangling dangling symlinks, $reflexive reflexive symlinks and 0 unreadable symlinks" >&2
    exit 1
  fi
}

pc_file_check() { # cmake's setup hook: `${prefix}/` joined to an absolute store path
  local file lines
  while IFS= read -r -d '' file; do
    lines="$(grep --line-number '}//nix/store' "$file" || true)"
    if [ -n "$lines" ]; then
      echo "Broken paths found in a .pc file! $file" >&2
      echo "$lines" >&2
      exit 1
    fi
  done < <(find "$out" -iname '*.pc' -print0)
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
shrink_rpaths
if [ -z "${dontStrip:-}" ]; then strip_dirs; fi
run_hook postFixup
if [ -z "${dontCheckForBrokenSymlinks:-}" ]; then no_broken_symlinks; fi
pc_file_check
