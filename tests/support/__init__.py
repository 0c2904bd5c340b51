"""Test support shared by several test tiers: slow-tier environments with real CUDA wheels, real
models from PyPI packages (both cached by input), bundle helpers."""
