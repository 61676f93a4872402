"""What a column of an import file can become; guesses from header names in English and German."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

from crm.startups.search import folded_variants

IGNORE = ""

#: Target fields in the order the mapping form offers them, with their labels.
FIELD_LABELS = {
    "name": _l("Startup name"),
    "website": _l("Website or domain"),
    "country": _l("Country"),
    "city": _l("City"),
    "founded_year": _l("Founded (year)"),
    "team_size": _l("Team size"),
    "funding_stage": _l("Funding stage"),
    "description": _l("Description"),
    "sectors": _l("Sectors (comma-separated)"),
    "tags": _l("Tags (comma-separated)"),
    "source_detail": _l("Event or source"),
    "contact_name": _l("Contact name"),
    "contact_email": _l("Contact e-mail"),
    "contact_phone": _l("Contact phone"),
    "contact_role": _l("Contact role"),
    "owner_email": _l("Owner (staff e-mail)"),
}
FIELDS = tuple(FIELD_LABELS)

# Header names (folded to lower-case letters and digits) that suggest a field.
_ALIASES = {
    "name": ("name", "company", "companyname", "startup", "startupname", "organisation",
             "organization", "organisationname", "organizationname", "account", "accountname",
             "firma", "firmenname", "firmierung", "unternehmen", "unternehmensname"),
    "website": ("website", "web", "url", "homepage", "domain", "webseite", "webadresse",
                "internetseite", "internetadresse", "internet", "www", "site", "websiteurl"),
    "country": ("country", "countrycode", "hqcountry", "headquarterscountry", "nation",
                "land", "staat", "herkunftsland", "laendercode"),
    "city": ("city", "town", "stadt", "ort", "sitz", "hqcity"),
    "founded_year": ("founded", "foundedyear", "foundedin", "yearfounded", "foundingyear",
                     "foundingdate", "founding", "gegruendet", "gruendungsjahr", "gruendung",
                     "gruendungsdatum"),
    "team_size": ("teamsize", "team", "employees", "numberofemployees", "noofemployees",
                  "headcount", "staff", "mitarbeiter", "mitarbeiterzahl", "anzahlmitarbeiter",
                  "teamgroesse", "beschaeftigte"),
    "funding_stage": ("fundingstage", "funding", "stage", "investmentstage", "round",
                      "fundinground", "finanzierungsphase", "finanzierung", "finanzierungsrunde",
                      "phase"),
    "description": ("description", "about", "summary", "pitch", "notes", "note", "comment",
                    "comments", "beschreibung", "kurzbeschreibung", "notizen", "notiz",
                    "bemerkung", "bemerkungen", "kommentar"),
    "sectors": ("sector", "sectors", "industry", "industries", "vertical", "verticals",
                "branche", "branchen", "sektor", "sektoren"),
    "tags": ("tag", "tags", "labels", "keywords", "schlagworte", "schlagwoerter", "stichworte"),
    "source_detail": ("event", "source", "leadsource", "fair", "tradefair", "quelle", "messe",
                      "veranstaltung", "herkunft"),
    "contact_name": ("contact", "contactname", "contactperson", "person", "fullname",
                     "founder", "foundername", "ansprechpartner", "ansprechpartnerin",
                     "ansprechperson", "kontakt", "kontaktperson", "kontaktname", "gruender"),
    "contact_email": ("email", "mail", "emailaddress", "emailadresse", "mailadresse",
                      "contactemail", "kontaktemail", "founderemail"),
    "contact_phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone",
                      "telefon", "telefonnummer", "mobil", "mobilnummer", "handy",
                      "contactphone"),
    "contact_role": ("role", "title", "jobtitle", "position", "function", "funktion", "rolle",
                     "contactrole"),
    "owner_email": ("owner", "owneremail", "bdmanager", "accountowner", "betreuer",
                    "betreuerin", "zustaendig", "verantwortlich"),
}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_GUESSES = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}


def header_key(header: str) -> str:
    """A header as the mapping stores it: case and spacing do not matter."""
    return " ".join(header.casefold().split())


def header_signature(headers: Iterable[str]) -> str:
    """SHA-256 of the set of header keys: files with the same columns share a mapping."""
    keys = sorted({header_key(header) for header in headers})
    return hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()


def guess_field(header: str) -> str:
    """The field a header name suggests, or IGNORE."""
    for variant in folded_variants(header):
        field = _GUESSES.get(_NOT_ALNUM.sub("", variant))
        if field:
            return field
    return IGNORE


def guess_mapping(headers: Iterable[str]) -> dict[str, str]:
    """Header key -> field guessed from the names; each field goes to its first column only."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field = guess_field(header)
        if field and field not in taken:
            taken.add(field)
            mapping[header_key(header)] = field
        else:
            mapping[header_key(header)] = IGNORE
    return mapping
