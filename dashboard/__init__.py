"""Handoff: the marketing-sales hand-off dashboard."""
