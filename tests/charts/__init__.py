"""Tests of dashboard/charts/: traces, titles, axis labels, the empty frame."""
