"""Test support shared by several test tiers (slow-tier environments with real CUDA wheels)."""
