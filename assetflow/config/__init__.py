"""``assets.toml``: its models and fields, where its files live, and loading a project's
definitions."""
