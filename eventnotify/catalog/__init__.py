"""The event catalogue: built-in standard events and JSON Schema helpers.

``eventnotify.catalog.standard`` holds the standard events shipped with eventnotify;
``eventnotify.catalog.schemas`` checks custom schemas, validates event data against a
schema and generates sample data for test events.
"""
