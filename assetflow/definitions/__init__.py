"""What a project declares: assets, sources, checks, the context an asset sees, code versions."""
