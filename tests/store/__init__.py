"""Tests of dashboard/store/: the repositories on SQLite and PostgreSQL, the rights table and the audit log."""
