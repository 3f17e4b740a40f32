"""Helpers shared by test folders (imported, never collected as tests)."""
