"""Translate pymongo errors into domain errors, in one place."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DuplicateKeyError,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from eventnotify.errors import AlreadyExists, Unavailable


@contextlib.contextmanager
def storage_errors(duplicate_message: str = "already exists") -> Iterator[None]:
    """Run a storage operation, re-raising pymongo failures as domain errors."""
    try:
        yield
    except DuplicateKeyError as exc:
        raise AlreadyExists(duplicate_message) from exc
    except (ServerSelectionTimeoutError, ConnectionFailure, AutoReconnect) as exc:
        raise Unavailable("MongoDB is unavailable") from exc
    except PyMongoError as exc:
        if exc.has_error_label("RetryableWriteError") or exc.timeout:
            raise Unavailable("MongoDB is unavailable") from exc
        raise
