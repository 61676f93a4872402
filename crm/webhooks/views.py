"""The admin's webhook pages: endpoints, their delivery log, secrets shown once, test events."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.db import get_or_404, get_session
from crm.users.access import role_required
from crm.webhooks import queries, services
from crm.webhooks.addresses import AddressRefused
from crm.webhooks.events import EVENT_LABELS
from crm.webhooks.forms import ConfirmDeleteForm, EditEndpointForm, EndpointForm, RotateSecretForm
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    return render_template("webhooks/index.html",
                           endpoints=queries.endpoints_with_latest(get_session()),
                           origin=services.origin)


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new():
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint, secret = services.create_endpoint(
                get_session(), url=form.url.data, description=form.description.data,
                subscribed=form.events.data, actor=current_user)
        except AddressRefused as refused:
            form.url.errors.append(refused.message)
        else:
            return render_template("webhooks/secret.html", endpoint=endpoint, secret=secret,
                                   created=True)
    status = 422 if form.errors else 200
    return render_template("webhooks/form.html", form=form, endpoint=None), status


@bp.get("/<int:endpoint_id>")
@role_required(Role.ADMIN)
def show(endpoint_id: int):
    return _endpoint_page(get_or_404(WebhookEndpoint, endpoint_id), RotateSecretForm())


def _endpoint_page(endpoint: WebhookEndpoint, rotate_form: RotateSecretForm) -> str:
    deliveries, next_before = queries.delivery_page(get_session(), endpoint.id,
                                                     request.args.get("before", type=int))
    return render_template("webhooks/show.html", endpoint=endpoint, deliveries=deliveries,
                           next_before=next_before, paged="before" in request.args,
                           rotate_form=rotate_form, event_labels=EVENT_LABELS,
                           resendable=services.RESENDABLE)


@bp.route("/<int:endpoint_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit(endpoint_id: int):
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    form = EditEndpointForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            changes = services.update_endpoint(
                get_session(), endpoint, url=form.url.data, description=form.description.data,
                subscribed=form.events.data, active=form.active.data, actor=current_user)
        except AddressRefused as refused:
            form.url.errors.append(refused.message)
        else:
            flash(_("Saved.") if changes else _("Nothing changed."), "success")
            return redirect(url_for(".show", endpoint_id=endpoint.id))
    status = 422 if form.errors else 200
    return render_template("webhooks/form.html", form=form, endpoint=endpoint), status


@bp.post("/<int:endpoint_id>/secret")
@role_required(Role.ADMIN)
def rotate_secret(endpoint_id: int):
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    form = RotateSecretForm()
    if not form.validate_on_submit():
        return _endpoint_page(endpoint, form), 422
    secret = services.rotate_secret(get_session(), endpoint, current_user)
    return render_template("webhooks/secret.html", endpoint=endpoint, secret=secret,
                           created=False)


@bp.route("/<int:endpoint_id>/delete", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def delete(endpoint_id: int):
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    form = ConfirmDeleteForm()
    if form.validate_on_submit():
        services.delete_endpoint(get_session(), endpoint, current_user)
        flash(_("The endpoint is deleted."), "success")
        return redirect(url_for(".index"))
    status = 422 if form.errors else 200
    return render_template("webhooks/delete.html", endpoint=endpoint, form=form), status


@bp.post("/<int:endpoint_id>/test")
@role_required(Role.ADMIN)
def send_test(endpoint_id: int):
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    if services.send_test(get_session(), endpoint, current_user):
        flash(_("A test event is on its way; its delivery appears below."), "success")
    else:
        flash(_("This endpoint is inactive: make it active first."), "error")
    return redirect(url_for(".show", endpoint_id=endpoint.id))


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/again")
@role_required(Role.ADMIN)
def send_again(endpoint_id: int, delivery_id: int):
    delivery = get_session().scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id))
    if delivery is None:
        abort(404)
    if services.send_again(get_session(), delivery, current_user, utcnow()):
        flash(_("The event will be sent again at once."), "success")
    else:
        flash(_("This delivery is no longer failed or dead, so it was left as it is."), "info")
    return redirect(url_for(".show", endpoint_id=endpoint_id))
