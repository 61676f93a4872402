"""Error pages in our layout and the user's language; never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from crm.api.problems import is_api_request, problem_response

ERROR_TEXTS = {
    400: (_l("Bad request"), _l("The request could not be understood. Please try again.")),
    401: (_l("Please log in"), _l("You need to log in to see this page.")),
    403: (_l("Not allowed"), _l("Your role does not allow this. Ask an administrator.")),
    404: (_l("Not found"), _l("There is nothing at this address.")),
    405: (_l("Not allowed"), _l("This action is not available here.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (
        _l("Too many attempts"),
        _l("Too many requests in a short time. Please wait a minute and try again."),
    ),
    500: (_l("Something went wrong"), _l("We could not complete this. Please try again.")),
}


def render_error(status: int, message: str | None = None, headers: dict[str, str] | None = None):
    if is_api_request():
        return problem_response(status, message, headers=headers)
    title, text = ERROR_TEXTS.get(status, ERROR_TEXTS[500])
    if request.accept_mimetypes.best == "application/json":
        return {"error": str(title), "message": str(message or text)}, status
    return render_template("errors/error.html", status=status, title=title,
                           message=message or text), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError):
        return render_error(
            400,
            str(_l("This form has expired or was sent from elsewhere. "
                   "Please reload the page and try again.")),
        )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        allowed = error.valid_methods if isinstance(error, MethodNotAllowed) else None
        return render_error(error.code, headers={"Allow": ", ".join(allowed)} if allowed else None)

    @app.errorhandler(Exception)
    def _unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.url_rule)
        return render_error(InternalServerError.code)
