"""Delivery building blocks shared by the dispatcher and SendTestEvent: the
signed request, the HTTP and queue senders, the address policy, SLA arithmetic
and the log entry a delivery starts from."""
