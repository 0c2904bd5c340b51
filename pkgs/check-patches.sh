# check_patch_series PATCH...: apply each patch, in order, to a scratch copy of the files the
# series touches (taken from the current directory, the unpacked source), with no fuzz. The
# first one that does not apply stops the build, named, with patch's own message; the
# source itself is not changed (patchPhase applies the series afterwards).
check_patch_series() {
  local scratch="${TMPDIR:-/tmp}/patch-series-check" patch file output
  rm -rf "$scratch"
  mkdir -p "$scratch"
  for patch in "$@"; do
    for file in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$patch"); do
      if [ -f "$file" ] && [ ! -e "$scratch/$file" ]; then
        mkdir -p "$scratch/$(dirname "$file")"
        cp "$file" "$scratch/$file"
      fi
    done
  done
  for patch in "$@"; do
    if ! output="$(patch -d "$scratch" -p1 --batch --forward --fuzz=0 \
      --no-backup-if-mismatch < "$patch" 2>&1)"; then
      echo "patch series: $(basename "$patch") does not apply to this source as written:" >&2
      echo "$output" >&2
      rm -rf "$scratch"
      return 1
    fi
  done
  rm -rf "$scratch"
  echo "patch series: all $# patches apply without fuzz"
}
