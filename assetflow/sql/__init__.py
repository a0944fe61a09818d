"""SQL assets understood by DuckDB's own parser: the tables a query names, templates, statements."""
