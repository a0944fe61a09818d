"""The asset graph built from the definitions, and selections over it."""
