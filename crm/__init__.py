"""Landing Desk: the application factory."""

from __future__ import annotations

from flask import Flask
from flask_openapi3 import Info, OpenAPI

from crm.config import PROJECT_ROOT, Settings, load_settings


def create_app(settings: Settings | None = None, **config_overrides) -> Flask:
    """Build the web app from `settings` (default: the environment)."""
    settings = settings or load_settings()
    settings.check_production_safety()
    from crm.api.blueprint import SECURITY_SCHEMES
    from crm.api.problems import Problem, validation_problem

    # Flask with an OpenAPI description of /api/v1 built from its routes' pydantic models.
    app = OpenAPI(
        __name__,
        info=Info(title="Landing Desk API", version="1.0.0",
                  description="Startups, contacts, programmes, enrollments, activities, tasks "
                              "and intake submissions. Errors are RFC 9457 problem details."),
        security_schemes=SECURITY_SCHEMES,
        doc_ui=False,  # our own docs page (crm/api/meta.py): no inline script, no CDN
        validation_error_model=Problem,
        validation_error_callback=validation_problem,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=settings.effective_ratelimit_storage_url,
        RATELIMIT_STRATEGY="moving-window",
        # Said every time: the one Limiter object keeps the last app's choice otherwise.
        RATELIMIT_ENABLED=True,
        TESTING=settings.env == "test",
    )
    app.config.update(config_overrides)

    _init_extensions(app, settings)
    _register_blueprints(app)
    return app


def _init_extensions(app: Flask, settings: Settings) -> None:
    import crm.models  # noqa: F401 - every table mapped before the first query
    from crm import db
    from crm.audit import denials
    from crm.core import errors, i18n, logs, page_cache, security, templating
    from crm.extensions import csrf, limiter
    from crm.users import access, sessions

    logs.init_app(app)
    db.init_app(app, settings)
    page_cache.init_app(app, settings)
    security.init_app(app, settings)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    access.init_app(app)
    sessions.init_app(app)
    errors.init_app(app)
    denials.init_app(app)
    templating.init_app(app)


def _register_blueprints(app: OpenAPI) -> None:
    from crm.api.routes import api
    from crm.api.token_views import bp as api_tokens_bp
    from crm.audit.views import bp as audit_bp
    from crm.core.health import bp as health_bp
    from crm.documents.views import bp as documents_bp
    from crm.duplicates.views import bp as duplicates_bp
    from crm.exports.views import bp as exports_bp
    from crm.extensions import csrf
    from crm.gdpr.views import bp as gdpr_bp
    from crm.imports.views import bp as imports_bp
    from crm.intake.staff_views import bp as applications_bp
    from crm.intake.views import bp as intake_bp
    from crm.outbox.views import bp as outbox_bp
    from crm.programmes.admin_views import bp as programme_admin_bp
    from crm.programmes.views import bp as pipeline_bp
    from crm.reports.views import bp as reports_bp
    from crm.reports.weekly_views import bp as weekly_reports_bp
    from crm.startups.list_views import bp as startup_list_bp
    from crm.startups.profile_views import bp as profile_bp
    from crm.startups.views import bp as startups_bp
    from crm.startups.views import tasks_bp
    from crm.users.account_views import bp as account_bp
    from crm.users.admin_views import admin_bp
    from crm.users.views import bp as users_bp
    from crm.webhooks.views import bp as webhooks_bp
    from crm.work.views import bp as work_bp
    from crm.workflow.views import bp as workflow_bp

    for blueprint in (health_bp, users_bp, account_bp, admin_bp, startups_bp, tasks_bp, pipeline_bp,
                      reports_bp, workflow_bp, programme_admin_bp, documents_bp, work_bp,
                      profile_bp, duplicates_bp, startup_list_bp, exports_bp, imports_bp,
                      intake_bp, applications_bp, outbox_bp, weekly_reports_bp, audit_bp,
                      gdpr_bp, webhooks_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(api_tokens_bp)  # the token pages, under /account and /admin
    app.register_api(api)
    csrf.exempt(api)  # tokens, not cookies: nothing a forged cross-site request could carry
