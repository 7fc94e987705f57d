"""Tests of queries/: hand-built frames whose answers are computed by hand."""
