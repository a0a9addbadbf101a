"""The ``eventnotify`` console command: every gRPC call of the API from a shell.

``main.py`` parses arguments and maps failures to exit codes; ``config.py``
finds the server and the API key; ``client.py`` is the one place that talks
gRPC and decodes its errors; ``output.py`` prints tables or JSON; each command
group (webhooks, events, logs, replay, publish, keys) has its own module.
"""
