"""gRPC servicers: unpack the request, call ``service.core``, pack the result.
Cross-cutting concerns (request id, auth, roles, rate limit, error mapping,
access log) live in ``service.api.interceptors``."""
