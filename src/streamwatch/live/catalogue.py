"""The topic catalogue: one JSON file per topic under ``topics/`` (see ``topics/README.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


class CatalogueError(ValueError):
    """A catalogue file is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as the catalogue describes it (name without the deployment prefix)."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    description: str = ""
    key: str = "customer_id"

    def prefixed(self, prefix: str) -> str:
        """The topic's name on the broker."""
        return prefix + self.name


def load_catalogue(directory: Path) -> list[TopicSpec]:
    """Every ``*.json`` topic file directly under ``directory``, sorted by topic name.

    Raises CatalogueError when the directory holds no topic file or a file is malformed.
    """
    if not directory.is_dir():
        raise CatalogueError(
            f"topic catalogue {directory} is not a directory "
            "(run from the repository root, or set STREAMWATCH_TOPICS_DIR)"
        )
    specs = [_spec(path) for path in sorted(directory.glob("*.json"))]
    if not specs:
        raise CatalogueError(f"topic catalogue {directory} has no *.json topic files")
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CatalogueError(f"topic catalogue {directory} names {duplicates} twice")
    return sorted(specs, key=lambda spec: spec.name)


def _spec(path: Path) -> TopicSpec:
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CatalogueError(f"{path}: must hold a JSON object")
    name = _field(doc, path, "name", str)
    partitions = _field(doc, path, "partitions", int)
    replication = _field(doc, path, "replication_factor", int)
    if partitions < 1 or replication < 1:
        raise CatalogueError(f"{path}: partitions and replication_factor must be >= 1")
    config = doc.get("config", {})
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        raise CatalogueError(f"{path}: 'config' must map Kafka config names to strings")
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=replication,
        config=dict(config),
        description=str(doc.get("description", "")),
        key=str(doc.get("key", "customer_id")),
    )


def _field(doc: dict[str, Any], path: Path, name: str, kind: type) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CatalogueError(f"{path}: field {name!r} must be a {kind.__name__}")
    return value
