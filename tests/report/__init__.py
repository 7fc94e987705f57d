"""Tests of dashboard/report/: the weekly review as a file, and its command line."""
