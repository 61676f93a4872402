"""The API's description of itself: the OpenAPI 3.1 document generated from the routes' models,
and the documentation page read from it (server-rendered: no script, nothing from a CDN)."""

from __future__ import annotations

from flask import current_app, jsonify, render_template

from crm.api import docs as api_docs
from crm.api.blueprint import MAX_BODY_BYTES, api


@api.get("/openapi.json", doc_ui=False)
def openapi_json():
    return jsonify(current_app.api_doc)


@api.get("/docs", doc_ui=False)
def docs():
    groups, schemas = api_docs.read(current_app.api_doc)
    return render_template("api/docs.html", info=current_app.api_doc["info"], groups=groups,
                           schemas=schemas, max_body_mib=MAX_BODY_BYTES // 2**20,
                           rate_limits=current_app.config["SETTINGS"].api_rate_limit.split(";"))
