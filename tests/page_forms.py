"""Read rendered pages as a browser would: their forms (action, fields, choices) and anything a
strict Content-Security-Policy would block (inline script, event handlers, style attributes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from flask import Flask, url_for

from tests.test_route_matrix import ROUTES, World


@dataclass
class FormField:
    name: str
    kind: str  # input type ("submit": a named button), "select", "textarea"
    value: str = ""
    choices: list[str] = field(default_factory=list)
    multiple: bool = False


@dataclass
class PageForm:
    action: str
    fields: dict[str, FormField] = field(default_factory=dict)
    multipart: bool = False


class PageReader(HTMLParser):
    """The forms posting to this site and the markup a CSP without 'unsafe-inline' refuses."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[PageForm] = []
        self.blocked: list[str] = []
        self._form: PageForm | None = None
        self._select: FormField | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on") or name == "style":
                self.blocked.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and \
                    value.strip().lower().startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}=javascript:…>")
        if tag == "script":
            self._in_script = not values.get("src")
            if self._in_script and values.get("type", "") not in ("", "text/javascript",
                                                                   "module"):
                self._in_script = False  # data blocks (application/json) are not run
            if self._in_script:
                self.blocked.append("<script> without src")
        elif tag == "style":
            self.blocked.append("<style> element")
        elif tag == "form" and values.get("method", "get").lower() == "post":
            self._form = PageForm(action=values.get("action") or self.page_url,
                                  multipart="multipart" in values.get("enctype", ""))
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "select", "textarea", "button") and \
                ("name" in values or "formaction" in values):
            self._add_field(tag, values)
        elif tag == "option" and self._select is not None:
            self._select.choices.append(values.get("value", ""))

    def _add_field(self, tag: str, values: dict[str, str]) -> None:
        name = values.get("name", "")
        kind = values.get("type", "submit" if tag == "button" else "text").lower()
        kind = kind if tag in ("input", "button") else tag
        if kind in ("button", "reset", "image"):
            return
        if kind == "submit":  # a button that posts the same fields elsewhere is a form too
            if values.get("formaction"):
                self.forms.append(PageForm(values["formaction"], self._form.fields,
                                           self._form.multipart))
            if not name:
                return
        known = self._form.fields.get(name)
        if known is not None and kind in ("checkbox", "radio", "submit"):
            known.choices.append(values.get("value", "on"))
            known.multiple = known.multiple or kind == "checkbox"
            return
        entry = FormField(name=name, kind=kind, value=values.get("value", ""),
                          multiple="multiple" in values)
        if kind in ("checkbox", "radio", "submit"):
            entry.choices.append(values.get("value", "on"))
        self._form.fields[name] = entry
        if tag == "select":
            self._select = entry

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "script":
            self._in_script = False


def read_page(url: str, html: str) -> PageReader:
    reader = PageReader(url)
    reader.feed(html)
    reader.close()
    return reader


def get_urls(app: Flask, world: World, may_use: str) -> Iterator[tuple[str, str]]:
    """(endpoint, URL) of every GET route the matrix lets `may_use` (an attribute of Access:
    "anonymous", "admin", "bd_own", …) into, on the caller's own records."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.endpoint):
        if "GET" not in rule.methods or rule.endpoint not in ROUTES:
            continue
        access, args_of = ROUTES[rule.endpoint]
        if getattr(access, may_use) != "in":
            continue
        with app.test_request_context():
            yield rule.endpoint, url_for(rule.endpoint, **args_of(world, "own"))
