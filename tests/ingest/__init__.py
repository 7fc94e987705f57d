"""Tests of dashboard/ingest/: CRM exports read, mapped, validated and written."""
