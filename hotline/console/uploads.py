"""Uploaded directory files waiting between preview and confirmation.

The file is kept in Redis (shared by every web process) for half an hour,
tied to the user who uploaded it; confirming plans it again against the
directory as it is then, so nothing stale is ever written.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import cast

from redis import Redis

TTL_SECONDS = 30 * 60
MAX_BYTES = 10 * 1024 * 1024
# An upload request may carry the file and its form around it, no more (see hotline.app).
MAX_REQUEST_BYTES = MAX_BYTES + 64 * 1024
_PREFIX = "hotline:console:upload:"


@dataclass(frozen=True)
class PendingUpload:
    user_id: int
    station_id: int
    filename: str
    prune: bool
    data: bytes


def save_upload(redis: Redis, upload: PendingUpload) -> str:
    """Keep ``upload`` and return the token that finds it again."""
    token = secrets.token_urlsafe(24)
    meta = {
        "user_id": upload.user_id,
        "station_id": upload.station_id,
        "filename": upload.filename,
        "prune": upload.prune,
    }
    key = _PREFIX + token
    with redis.pipeline() as pipe:
        pipe.hset(key, mapping={"meta": json.dumps(meta), "data": upload.data})
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()
    return token


def load_upload(redis: Redis, token: str, user_id: int) -> PendingUpload | None:
    """The upload behind ``token`` if it exists, has not expired and is ``user_id``'s."""
    if not token:
        return None
    stored = redis.hgetall(_PREFIX + token)
    if not stored or b"meta" not in stored:
        return None
    meta = json.loads(stored[b"meta"])
    if meta["user_id"] != user_id:
        return None
    return PendingUpload(
        user_id=meta["user_id"],
        station_id=meta["station_id"],
        filename=meta["filename"],
        prune=bool(meta["prune"]),
        data=cast(bytes, stored.get(b"data", b"")),  # this client does not decode replies
    )


def discard_upload(redis: Redis, token: str) -> None:
    redis.delete(_PREFIX + token)
