"""Tests of dashboard/data/: the boundary's figures and the caches its writes clear."""
