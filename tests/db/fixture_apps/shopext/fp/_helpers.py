"""Helpers a data migration uses (the loader skips modules starting with "_")."""

PREFIX = "W-"
SHOUTY = {"WIDGET", "GADGET", "THING"}


def normalize(name):
    """Return the name as the shop wants it."""
    name = _tidy(name)
    if name.upper() in SHOUTY:
        name = name.title()
    return PREFIX + name


def _tidy(name):
    return " ".join(name.split())
