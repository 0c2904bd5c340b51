"""Turning a CMake build and install into a distribution (``finalize``), and the native lab."""
