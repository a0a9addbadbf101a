"""Business logic of the gRPC service: plain async functions over the
repositories and the calling principal, raising ``eventnotify.errors`` types.
Nothing here knows about protobuf or gRPC."""
