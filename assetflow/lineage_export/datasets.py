"""Which OpenLineage dataset each asset is: ``(namespace, name)``, from where its IO manager
keeps it, following the OpenLineage naming conventions where they name the storage.

- ``duckdb`` assets: namespace ``duckdb://<warehouse file>``, name ``main.<asset>`` (the
  table; a partition is the rows whose ``_partition`` is its key).
- ``parquet`` assets: namespace ``file``, name ``<data folder>/<asset>`` (the folder holding
  one file per partition); on object storage namespace ``s3://<bucket>`` (the URL's scheme),
  name ``<prefix>/<asset>``.
- file sources: namespace ``file``, name the source's ``path`` under the project root (its
  template, for a partitioned source).
- anything else (``io = "none"``, sources observed by a function): namespace the job
  namespace of ``[lineage.openlineage]``, name the asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assetflow.config.remote_data import RemoteData
from assetflow.definitions.assets import AssetDef

__all__ = ["DatasetNames"]


@dataclass(frozen=True)
class DatasetNames:
    """Names datasets for one project: its root, warehouse file and data folder."""

    namespace: str
    root: Path
    warehouse: Path
    data: Path | RemoteData

    def of(self, definition: AssetDef) -> tuple[str, str]:
        """``(namespace, name)`` of the dataset ``definition`` is stored as (or observed in)."""
        if definition.is_source:
            spec = definition.observed
            if spec is not None and spec.path is not None:
                return "file", (self.root / spec.path).as_posix()
            return self.namespace, definition.name
        if definition.io == "duckdb":
            return f"duckdb://{self.warehouse.as_posix()}", f"main.{definition.name}"
        if definition.io == "parquet":
            if isinstance(self.data, RemoteData):  # OpenLineage's naming: s3://bucket + path
                bucket, _, prefix = self.data.url.split("://", 1)[1].partition("/")
                path = f"{prefix}/{definition.name}" if prefix else definition.name
                return f"{self.data.protocol}://{bucket}", path
            return "file", (self.data / definition.name).as_posix()
        return self.namespace, definition.name
