"""The API's description of itself: the OpenAPI 3.1 document generated from the routes' models."""

from __future__ import annotations

from flask import current_app, jsonify

from crm.api.blueprint import api


@api.get("/openapi.json", doc_ui=False)
def openapi_json():
    return jsonify(current_app.api_doc)
