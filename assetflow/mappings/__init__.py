"""Partition mappings: which upstream partitions one downstream partition reads."""
