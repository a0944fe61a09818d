"""Partitions definitions and keys: time windows, static and multi partitions, TOML specs."""
