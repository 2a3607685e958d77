"""Test helpers shared by several test areas (the GitHub stand-in)."""
