"""The native build lab: ORT built from a pinned Debian source in a chroot, then finalized.

``source`` (the tarball and its pin), ``chroot`` (debootstrap and commands inside),
``paths`` (the fixed paths inside the chroot, the cache and its lock), ``source_patches`` (a
series applied where it applies), ``configure`` (the CMake line and the shims under
``shims/``), ``cmake_build`` (configure, ninja, install), ``static_deps`` and ``reduced``
(a static variant's dependencies; a build reduced to some models' operators), ``keys`` (the
source, build and result keys), ``trees`` (directories stamped with their keys, stashed and
put back) and ``pipeline`` (the stages in order, each skipped when its output is current).
"""
