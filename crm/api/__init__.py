"""The JSON API at /api/v1: resources, token authentication, problem details, OpenAPI."""
