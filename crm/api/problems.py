"""RFC 9457 problem details: the one shape of every error /api/v1 answers, field errors included."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"


class FieldError(BaseModel):
    """One rejected value: where it is ("body.name", "query.cursor") and what is wrong."""

    field: str
    message: str
    code: str


class Problem(BaseModel):
    """A problem details object (RFC 9457); `errors` lists the fields at fault, if any."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """Raised anywhere in an API request: answered as problem details with this status.

    `kind` names the problem ("stale", "gate-not-met") as its type URI; `extra` members go into
    the body beside the standard ones (e.g. `missing` for a gate)."""

    def __init__(self, status: int, detail: str | None = None, *, kind: str | None = None,
                 errors: list[FieldError] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or HTTP_STATUS_CODES.get(status, "Error"))
        self.status, self.detail, self.kind = status, detail, kind
        self.errors, self.headers, self.extra = errors, headers or {}, extra


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def problem_response(status: int, detail: str | None = None, *, kind: str | None = None,
                     errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body = Problem(type=f"urn:landing-desk:problem:{kind}" if kind else "about:blank",
                   title=HTTP_STATUS_CODES.get(status, "Error"), status=status,
                   detail=str(detail) if detail is not None else None, errors=errors, **extra)
    response = jsonify(body.model_dump(mode="json", exclude_none=True))
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response


def from_exception(error: ApiProblem) -> Response:
    return problem_response(error.status, error.detail, kind=error.kind, errors=error.errors,
                            headers=error.headers, **error.extra)


def field_errors(error: ValidationError, part: str) -> list[FieldError]:
    """Pydantic's errors as field errors under `part` ("body", "query", "path")."""
    return [FieldError(field=".".join([part, *(str(item) for item in detail["loc"])]),
                       message=detail["msg"], code=detail["type"])
            for detail in error.errors(include_url=False, include_context=False)]


def validation_problem(error: ValidationError) -> Response:
    """flask-openapi3's answer to a request its models refuse: 422 with every field at fault.

    The part is read from the model's name (…Body, …Query, …Path), since the library
    validates each part alone."""
    title = error.title.lower()
    part = next((name for name in ("query", "path") if title.endswith(name)), "body")
    return problem_response(422, "The request has invalid fields.", kind="invalid-fields",
                            errors=field_errors(error, part))
