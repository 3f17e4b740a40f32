"""AurSwift back-office: a desktop EPOS whose database survives every update."""

__version__ = "0.1.0"
