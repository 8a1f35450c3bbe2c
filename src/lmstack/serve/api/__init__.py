"""The HTTP API: one router per resource, assembled by `lmstack.serve.app.create_app`."""
