"""The WSGI app for gunicorn, built from the environment (one line and exit when misconfigured)."""

from crm import create_app
from crm.config import load_settings_or_exit

app = create_app(load_settings_or_exit())
