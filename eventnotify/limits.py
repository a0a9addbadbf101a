"""Size limits of an event, shared by the ingest API (which refuses with a
field violation) and the envelope decoder (which dead-letters), so an event the
API accepts is one the dispatcher can deliver. docs/limits.md lists them all."""

from __future__ import annotations

from eventnotify.jsonvalue import MAX_DEPTH

MAX_EVENT_ID = 128
MAX_EVENT_NAME = 64
MAX_REF_ID = 256
MAX_REQUEST_ID = 256
MAX_LOYALTY_EVENT_ID = 256
MAX_EVENT_HEADERS = 32
MAX_EVENT_HEADER_NAME = 256
MAX_EVENT_HEADER_VALUE = 1024
# Encoded envelope; Kafka's default max.message.bytes is 1 MiB, and a record
# refused there would be reported as a (wrongly retriable) broker error.
MAX_EVENT_BYTES = 512 * 1024
MAX_DATA_DEPTH = MAX_DEPTH

# The envelope's string fields and their limits, by proto field name.
EVENT_STRING_LIMITS: dict[str, int] = {
    "event_id": MAX_EVENT_ID,
    "event_name": MAX_EVENT_NAME,
    "ref_id": MAX_REF_ID,
    "request_id": MAX_REQUEST_ID,
    "loyalty_event_id": MAX_LOYALTY_EVENT_ID,
}
