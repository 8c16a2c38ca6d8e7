"""The check a long-running service makes before it starts: Kafka answers with the topics it
needs, and Redis answers; each problem is logged with what to do about it."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streamwatch.kafka_clients import KafkaUnavailable, check_connection, client_options
from streamwatch.live.admin import describe
from streamwatch.settings import DeploymentSettings, SettingsError


async def preflight(
    settings: DeploymentSettings, redis: Redis, needed: Sequence[str], logger: str
) -> bool:
    """Whether Kafka has the topics ``needed`` and Redis answers (each problem is logged on
    ``logger``)."""
    log = structlog.get_logger(logger)
    try:
        await check_connection(settings)
    except (KafkaUnavailable, SettingsError) as exc:
        log.error("cannot connect to kafka", kafka=settings.kafka, error=str(exc))
        return False
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        found = await describe(admin, list(needed))
    except (KafkaError, OSError) as exc:
        log.error(
            "kafka is not reachable; start it with: bash deploy/services.sh up",
            kafka=settings.kafka,
            error=str(exc),
        )
        return False
    finally:
        await admin.close()
    missing = [name for name in needed if name not in found]
    if missing:
        log.error("topics missing; create them with: streamwatch topics apply", missing=missing)
        return False
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        log.error(
            "redis is not reachable; start it with: bash deploy/services.sh up",
            redis=settings.redis,
            error=str(exc),
        )
        return False
    return True
