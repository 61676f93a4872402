"""Landing Desk with a "hello world" Flask app beside it, for one gunicorn to serve both.

The product answers every path as in production (crm.wsgi builds it from the environment);
/hello/ answers "Hello, world!" from a Flask app that does nothing else. Served by the same
server in the same run, the second is the ceiling the first is compared with.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from crm.wsgi import app as landing_desk

hello = Flask("hello")


@hello.get("/")
def hello_world() -> str:
    return "Hello, world!"


app = DispatcherMiddleware(landing_desk, {"/hello": hello})
