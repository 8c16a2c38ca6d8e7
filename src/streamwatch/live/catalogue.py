"""The topic catalogue: one JSON file per topic, shipped in the package under
``streamwatch/topics/`` (see its README), and the environments that size it.

``environments.json`` beside the topic files names each environment (``dev``, ``prod``, ...)
and what it changes in every topic: ``partitions`` (one count for all topics, which share a
key and must stay co-partitioned), ``replication_factor``, ``config`` merged over each
topic's, and ``topics`` with config overrides of single topics (retention, for one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

import orjson

ENVIRONMENTS_FILE: Final = "environments.json"
DEFAULT_ENVIRONMENT: Final = "dev"


def packaged_catalogue() -> Path:
    """The catalogue installed with streamwatch (``streamwatch/topics``)."""
    return Path(str(resources.files("streamwatch") / "topics"))


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


def load_catalogue(
    directory: Path | None = None, environment: str | None = None
) -> list[TopicSpec]:
    """Every ``*.json`` topic file directly under ``directory`` (default: the packaged
    catalogue), sized for ``environment`` (None: as the topic files say), sorted by name.

    Raises CatalogueError when the directory holds no topic file, a file is malformed, or the
    environment is not in its ``environments.json``.
    """
    directory = packaged_catalogue() if directory is None else directory
    if not directory.is_dir():
        raise CatalogueError(
            f"topic catalogue {directory} is not a directory (check STREAMWATCH_TOPICS_DIR)"
        )
    paths = sorted(p for p in directory.glob("*.json") if p.name != ENVIRONMENTS_FILE)
    specs = [_spec(path) for path in paths]
    if not specs:
        raise CatalogueError(f"topic catalogue {directory} has no *.json topic files")
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CatalogueError(f"topic catalogue {directory} names {duplicates} twice")
    if environment is not None:
        sizing = environments(directory).get(environment)
        if sizing is None:
            known = ", ".join(sorted(environments(directory))) or "none"
            raise CatalogueError(
                f"topic catalogue {directory} has no environment {environment!r} (it has: {known})"
            )
        specs = [sizing.apply(spec) for spec in specs]
    return sorted(specs, key=lambda spec: spec.name)


@dataclass(frozen=True, slots=True)
class Environment:
    """How one environment sizes every topic of the catalogue."""

    name: str
    description: str = ""
    partitions: int | None = None
    replication_factor: int | None = None
    config: dict[str, str] = field(default_factory=dict)
    topics: dict[str, dict[str, str]] = field(default_factory=dict)
    """Config overrides of single topics, by topic name (without prefix)."""

    def apply(self, spec: TopicSpec) -> TopicSpec:
        """``spec`` as this environment has it."""
        return replace(
            spec,
            partitions=self.partitions or spec.partitions,
            replication_factor=self.replication_factor or spec.replication_factor,
            config={**spec.config, **self.config, **self.topics.get(spec.name, {})},
        )


def environments(directory: Path) -> dict[str, Environment]:
    """The environments of the catalogue in ``directory`` (empty without the file); raises
    CatalogueError if the file is malformed."""
    path = directory / ENVIRONMENTS_FILE
    if not path.is_file():
        return {}
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise CatalogueError(f"{path}: must map environment names to objects")
    return {name: _environment(path, name, body) for name, body in doc.items()}


def _environment(path: Path, name: str, body: dict[str, Any]) -> Environment:
    where = f"{path}: environment {name!r}"
    sizes = {}
    for key in ("partitions", "replication_factor"):
        value = body.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise CatalogueError(f"{where}: {key!r} must be an integer >= 1")
        sizes[key] = value
    config = body.get("config", {})
    topics = body.get("topics", {})
    if not _strings(config):
        raise CatalogueError(f"{where}: 'config' must map Kafka config names to strings")
    if not isinstance(topics, dict) or not all(_strings(c) for c in topics.values()):
        raise CatalogueError(f"{where}: 'topics' must map topic names to config objects")
    return Environment(
        name=name,
        description=str(body.get("description", "")),
        partitions=sizes["partitions"],
        replication_factor=sizes["replication_factor"],
        config=dict(config),
        topics={topic: dict(c) for topic, c in topics.items()},
    )


def _strings(config: object) -> bool:
    return isinstance(config, dict) and all(isinstance(v, str) for v in config.values())


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
    if not _strings(config):
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
