"""Tests of seed/: the demo generator, and the patterns it plants found by the product's own queries."""
