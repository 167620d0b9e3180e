"""The HTTP surface: app factory, REST API, ingest, web pages."""
