"""Integrations with the tools a data team already has (dbt: :mod:`assetflow.integrations.dbt`).

An integration turns another tool's declarations into assetflow definitions when a project is
loaded. It sits between ``config/`` (which calls it) and ``definitions/`` (what it builds), and
imports its tool lazily, only for a project that configures it.
"""
