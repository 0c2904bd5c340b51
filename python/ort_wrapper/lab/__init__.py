"""The native build lab: ORT built from a pinned Debian source in a chroot, then finalized.

``source`` (the tarball and its pin), ``chroot`` (debootstrap and commands inside),
``configure`` (the CMake line and the shims under ``shims/``), ``patches`` (a series applied
where it applies) and ``run`` (the stages, cached by a hash of every input).
"""
