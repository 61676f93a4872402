"""Demo applications: two unfinished drafts and one submitted through the public form's path."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session
from werkzeug.datastructures import FileStorage

from crm.core.enums import Language
from crm.intake import drafts
from crm.intake.models import Application
from crm.intake.steps import PITCH_DECK
from crm.intake.submission import submit
from crm.programmes.models import Programme

DEMO_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _company(name: str, website: str, country: str, city: str, sectors: list[str],
             description: str) -> dict:
    return {"name": name, "website": website, "country": country, "city": city,
            "founded_year": 2022, "team_size": 9, "sectors": sectors, "funding_stage": "seed",
            "description": description}


def _people(name: str, email: str, language: str) -> dict:
    return {"people": [{"name": name, "role": "CEO", "email": email, "phone": None,
                        "language": language}]}


PLANS = {"timeline": "within_12_months", "office_need": "coworking", "hiring_plans": "1_5",
         "help_needed": ["visa", "bank_account", "office_space"], "notes": ""}

# (programme, applicant, language, days since the last activity, saved steps, submit?)
DEMO_APPLICATIONS = (
    ("welcome_duesseldorf", "meera@chennai-agritech.example", Language.EN, 4,
     {"company": _company("Chennai Agritech", "https://chennai-agritech.example", "IN",
                          "Chennai", ["Sustainability"], "Soil sensors for smallholder farms.")},
     False),
    ("welcome_nrw", "minjun@busan-marine.example", Language.DE, 8,
     {"company": _company("Busan Marine Sensors", "https://busan-marine.example", "KR", "Busan",
                          ["Green Tech"], "Sensors that watch the water quality of ports."),
      "people": _people("Kim Min-jun", "minjun@busan-marine.example", "de"), "plans": PLANS},
     False),
    ("welcome_duesseldorf", "rohan@pune-battery.example", Language.EN, 1,
     {"company": _company("Pune Battery Labs", "https://pune-battery.example", "IN", "Pune",
                          ["Green Tech", "Industry 4.0"], "Second-life batteries for factories."),
      "people": _people("Rohan Kulkarni", "rohan@pune-battery.example", "en"), "plans": PLANS,
      "documents": {}},
     True),
)


def load_demo_applications(session: Session, programmes: dict[str, Programme],
                           now: datetime) -> int:
    """Create the demo applications that are missing (by applicant address); how many exist."""
    known = set(session.scalars(select(Application.email).where(Application.email.in_(
        [email for _key, email, *_rest in DEMO_APPLICATIONS]))))
    for key, email, language, days_ago, answers, submitted in DEMO_APPLICATIONS:
        if email in known:
            continue
        moment = now - timedelta(days=days_ago)
        application = drafts.start_application(session, programmes[key], email=email,
                                               locale=language, now=moment)
        for step, values in answers.items():
            drafts.save_step(session, application, step, values, locale=language, now=moment)
        if submitted:
            drafts.add_document(session, application, PITCH_DECK, FileStorage(
                io.BytesIO(DEMO_PDF), filename="pitch-deck.pdf"), now=moment)
            submit(session, application, programmes[key], now=moment)
    return len(DEMO_APPLICATIONS)
