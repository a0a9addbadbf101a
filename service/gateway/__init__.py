"""The HTTP/JSON gateway: the contracts' ``google.api.http`` rules (and the
original system's v3 paths) served over aiohttp, every call forwarded to the
gRPC server so authentication, roles, rate limits, validation and errors are
the gRPC path's own."""
