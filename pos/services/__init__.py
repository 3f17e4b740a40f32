"""Domain operations for the till: plain functions with explicit arguments."""
