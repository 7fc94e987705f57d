"""The write side: one repository module per thing that changes, and the database they run in (db)."""
