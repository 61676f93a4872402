"""The demo data as plain constants; crm.demo.loader turns them into rows."""

from __future__ import annotations

from typing import NamedTuple

from crm.core.enums import (
    ActivityKind,
    EnrollmentStatus,
    FundingStage,
    Language,
    LeadSource,
    ReminderDelivery,
    Role,
)

# Every demo user logs in with this password (shown by `crm demo logins`).
DEMO_PASSWORD = "landing-desk-demo-2026"  # noqa: S105
DEMO_EMAIL_DOMAIN = "demo.landing-desk.test"
# Startup domains use the reserved .example TLD (RFC 2606): no demo email can reach anyone.
CONSENT_TEXT_VERSION = "2026-01"


class DemoUser(NamedTuple):
    email: str
    name: str
    role: Role
    locale: Language
    reminder_delivery: ReminderDelivery = ReminderDelivery.IMMEDIATE
    weekly_report: bool = False


DEMO_USERS = (
    DemoUser(f"katharina.vogel@{DEMO_EMAIL_DOMAIN}", "Katharina Vogel", Role.ADMIN, Language.DE,
             weekly_report=True),
    DemoUser(f"stefan.hoffmann@{DEMO_EMAIL_DOMAIN}", "Stefan Hoffmann", Role.MANAGER, Language.DE,
             ReminderDelivery.DAILY_DIGEST, weekly_report=True),
    DemoUser(f"priya.raghavan@{DEMO_EMAIL_DOMAIN}", "Priya Raghavan", Role.BD_MANAGER,
             Language.EN, weekly_report=True),
    DemoUser(f"jiwoo.park@{DEMO_EMAIL_DOMAIN}", "Ji-woo Park", Role.BD_MANAGER, Language.EN),
    DemoUser(f"haruka.sato@{DEMO_EMAIL_DOMAIN}", "Haruka Sato", Role.BD_MANAGER, Language.DE,
             ReminderDelivery.DAILY_DIGEST),
    DemoUser(f"lukas.brenner@{DEMO_EMAIL_DOMAIN}", "Lukas Brenner", Role.BD_MANAGER, Language.DE),
    DemoUser(f"mehmet.yilmaz@{DEMO_EMAIL_DOMAIN}", "Mehmet Yılmaz", Role.VIEWER, Language.DE),
)

# Each BD manager covers a desk of countries.
OWNER_BY_COUNTRY = {
    "IN": f"priya.raghavan@{DEMO_EMAIL_DOMAIN}",
    "KR": f"jiwoo.park@{DEMO_EMAIL_DOMAIN}",
    "JP": f"haruka.sato@{DEMO_EMAIL_DOMAIN}",
    "SG": f"haruka.sato@{DEMO_EMAIL_DOMAIN}",
    "TW": f"haruka.sato@{DEMO_EMAIL_DOMAIN}",
    "CN": f"lukas.brenner@{DEMO_EMAIL_DOMAIN}",
    "US": f"lukas.brenner@{DEMO_EMAIL_DOMAIN}",
}

SECTORS = (
    "Industry 4.0", "Digital Health", "Sustainability", "5G", "MedTech", "Life Sciences",
    "Green Tech",
)

# Programme keys: the definitions live in crm/programmes/definitions/*.yaml.
CORRIDOR = "karnataka_corridor"
WELCOME_DUS = "welcome_duesseldorf"
WELCOME_NRW = "welcome_nrw"
KOREA_DESK = "korea_desk"


# Where a lead came from: (source, source_detail).
SOURCES = {
    "bts": (LeadSource.EVENT, "Bengaluru Tech Summit 2026"),
    "medica": (LeadSource.EVENT, "MEDICA 2026"),
    "swd": (LeadSource.EVENT, "Startup Week Düsseldorf 2026"),
    "ftf": (LeadSource.EVENT, "Future Tech Fest 2026"),
    "seoul": (LeadSource.DELEGATION, "Mayor's delegation Seoul 2026"),
    "tokyo": (LeadSource.DELEGATION, "NRW delegation Tokyo 2026"),
    "kits": (LeadSource.REFERRAL, "Karnataka Startup Cell"),
    "jetro": (LeadSource.REFERRAL, "JETRO Düsseldorf"),
    "ahk": (LeadSource.REFERRAL, "AHK Greater China"),
    "gtai": (LeadSource.REFERRAL, "Germany Trade & Invest, New York"),
    "web": (LeadSource.WEB, "Welcome Package web form"),
    "import": (LeadSource.IMPORT, "Lead list Hannover Messe 2026"),
}

# The first activity of every startup tells where it came from.
ORIGIN_ACTIVITY = {
    LeadSource.EVENT: (ActivityKind.EVENT, "Met at {detail}"),
    LeadSource.DELEGATION: (ActivityKind.MEETING, "Met during the {detail}"),
    LeadSource.REFERRAL: (ActivityKind.NOTE, "Referred by {detail}"),
    LeadSource.WEB: (ActivityKind.EMAIL, "Enquiry via the {detail}"),
    LeadSource.IMPORT: (ActivityKind.NOTE, "Imported from the {detail}"),
}

FOLLOW_UP_ACTIVITIES = (
    (ActivityKind.CALL, "Intro call with the founders"),
    (ActivityKind.CALL, "Call about company registration: GmbH or branch office"),
    (ActivityKind.MEETING, "Pitch meeting at the International Business Service"),
    (ActivityKind.MEETING, "Meeting with NRW.Global Business about the welcome package"),
    (ActivityKind.VISIT, "Tour of coworking spaces in the Medienhafen"),
    (ActivityKind.VISIT, "Visit to the Life Science Center Düsseldorf"),
    (ActivityKind.EMAIL, "Sent the checklist for residence permit and address registration"),
    (ActivityKind.EMAIL, "Introduced a tax adviser from the provider network"),
    (ActivityKind.NOTE, "Pitch deck reviewed: good fit with NRW's industrial customers"),
    (ActivityKind.NOTE, "Founders plan a first hire in Düsseldorf within six months"),
)

# The owner's next step in a stage whose on-enter actions bring no task, by stage key.
OPEN_TASKS = {
    "lead": ("Schedule a call with the founders", "Send programme information"),
    "first_contact": ("Follow up on the intake questionnaire",),
    "qualified": ("Send the welcome package documents", "Book a trial day in a coworking space"),
    "review": ("Ask for the missing documents", "Check the business plan"),
    "approved": ("Send the welcome package documents", "Book a trial day in a coworking space"),
    "follow_up": ("Schedule a call with the founders",),
    "call_held": ("Prepare the programme for the visit to Düsseldorf",),
    "landing_support": ("Help book an appointment at the immigration office",
                        "Introduce to a bank for the business account"),
}
OPEN_TASK_FALLBACK = ("Schedule a call with the founders",)

DONE_TASKS = (
    "Send programme information",
    "Review the pitch deck",
    "Add the contacts from the business cards",
    "Write up the meeting notes",
)

CLOSE_REASONS = {
    EnrollmentStatus.LANDED: (
        "GmbH registered, office in the Medienhafen",
        "Entered in the commercial register; first hire in Düsseldorf",
        "Moved into a coworking space in Flingern; business account opened",
    ),
    EnrollmentStatus.WITHDRAWN: (
        "Chose Amsterdam for the EU office",
        "European expansion postponed by a year",
        "Funding round delayed",
        "Focusing on the US market first",
    ),
    EnrollmentStatus.REJECTED: (
        "Product not yet ready for the EU market",
        "No operating company planned in the region",
        "Outside the programme's sectors",
    ),
}

# Which side referred a corridor startup (its `referred_by` field), by lead source.
REFERRED_BY = {"swd": "duesseldorf", "web": "duesseldorf"}
REFERRED_BY_DEFAULT = "karnataka"

# Evidence notes for settled checklist items; {date} is the day it was settled ("12 Mar").
CHECKLIST_NOTES = {
    "address_registration": (
        "Bürgeramt appointment {date}", "Anmeldung at the Bürgerbüro Bilk on {date}",
        "Registered at the Bürgerbüro Oberkassel, {date}",
    ),
    "residence_permit": (
        "EU Blue Card from the Ausländeramt Düsseldorf", "Residence permit for self-employment "
        "(§ 21 AufenthG), picked up {date}", "Visa converted to a residence permit on {date}",
    ),
    "company_registration": (
        "GmbH entered at the Amtsgericht Düsseldorf on {date}",
        "Gewerbeanmeldung at the Ordnungsamt, {date}", "Branch office registered on {date}",
    ),
    "tax_number": (
        "Tax number from the Finanzamt Düsseldorf-Altstadt",
        "Tax adviser from the provider network filed the questionnaire",
    ),
    "bank_account": (
        "Business account at the Stadtsparkasse Düsseldorf", "Account opened online, {date}",
    ),
    "health_insurance": (
        "Statutory health insurance for the founders", "Private insurance until the first salary",
    ),
    "office_address": (
        "Desk in a coworking space in the Medienhafen", "Office at the Life Science Center",
        "Shared office in Flingern",
    ),
}
# Items the desk sometimes waives, and why.
WAIVED_NOTES = {
    "office_address": "Works from the coworking desk of the welcome package for now",
    "health_insurance": "Covered by the parent company's international policy",
}

CONTACT_ROLES = (
    "CTO & Co-founder", "COO", "Head of International Business", "Business Development Manager",
)
FOUNDER_ROLE = "CEO & Co-founder"

# Contacts per country: (name as shown, local part of the email address).
CONTACT_NAMES = {
    "IN": (
        ("Ananya Rao", "ananya.rao"), ("Vikram Hegde", "vikram.hegde"),
        ("Deepa Gowda", "deepa.gowda"), ("Rahul Shetty", "rahul.shetty"),
        ("Kavya Iyer", "kavya.iyer"), ("Arjun Nair", "arjun.nair"),
        ("Meera Kulkarni", "meera.kulkarni"), ("Sandeep Reddy", "sandeep.reddy"),
        ("Lakshmi Prasad", "lakshmi.prasad"), ("Rohan Desai", "rohan.desai"),
    ),
    "KR": (
        ("Kim Min-jun (김민준)", "minjun.kim"), ("Lee Seo-yeon (이서연)", "seoyeon.lee"),
        ("Park Ji-hoon (박지훈)", "jihoon.park"), ("Choi Yu-na (최유나)", "yuna.choi"),
        ("Jung Hyun-woo (정현우)", "hyunwoo.jung"), ("Kang Da-eun (강다은)", "daeun.kang"),
        ("Yoon Sung-min (윤성민)", "sungmin.yoon"), ("Han Ji-yeon (한지연)", "jiyeon.han"),
    ),
    "JP": (
        ("Yui Sato (佐藤結衣)", "yui.sato"), ("Takumi Suzuki (鈴木拓海)", "takumi.suzuki"),
        ("Haruto Takahashi (高橋陽翔)", "haruto.takahashi"),
        ("Aoi Tanaka (田中葵)", "aoi.tanaka"), ("Ren Watanabe (渡辺蓮)", "ren.watanabe"),
        ("Mei Ito (伊藤芽衣)", "mei.ito"), ("Sota Yamamoto (山本颯太)", "sota.yamamoto"),
        ("Hina Nakamura (中村陽菜)", "hina.nakamura"),
    ),
    "CN": (
        ("Zhang Wei (张伟)", "wei.zhang"), ("Wang Fang (王芳)", "fang.wang"),
        ("Li Na (李娜)", "na.li"), ("Liu Yang (刘洋)", "yang.liu"),
        ("Chen Jing (陈静)", "jing.chen"), ("Zhao Lei (赵磊)", "lei.zhao"),
        ("Huang Min (黄敏)", "min.huang"), ("Zhou Jie (周杰)", "jie.zhou"),
    ),
    "US": (
        ("Emily Carter", "emily.carter"), ("Marcus Johnson", "marcus.johnson"),
        ("Sarah Kim", "sarah.kim"), ("David Nguyen", "david.nguyen"),
        ("Jessica Alvarez", "jessica.alvarez"), ("Michael O'Brien", "michael.obrien"),
        ("Rachel Goldberg", "rachel.goldberg"), ("Brian Walsh", "brian.walsh"),
    ),
    "SG": (
        ("Tan Wei Ming", "weiming.tan"), ("Nur Aisyah Rahman", "aisyah.rahman"),
        ("Rajesh Pillai", "rajesh.pillai"), ("Lim Hui Min", "huimin.lim"),
    ),
    "TW": (
        ("Chen Yi-ting (陳怡婷)", "yiting.chen"), ("Lin Chia-hao (林家豪)", "chiahao.lin"),
        ("Huang Po-wei (黃柏瑋)", "powei.huang"),
    ),
}

# Well-known firms get one team address instead of invented people.
KNOWN_FIRM_CONTACT = ("International Business Team", "international")

# What fits a funding stage: (smallest, largest team), (youngest, oldest age in years).
FUNDING_PROFILES = {
    FundingStage.BOOTSTRAPPED: ((2, 15), (1, 8)),
    FundingStage.PRE_SEED: ((2, 10), (1, 3)),
    FundingStage.SEED: ((5, 30), (1, 5)),
    FundingStage.SERIES_A: ((20, 80), (3, 7)),
    FundingStage.SERIES_B_PLUS: ((60, 300), (5, 12)),
    FundingStage.PROFITABLE: ((15, 120), (4, 15)),
}

# Mobile numbers in E.164: (prefix, how many random digits follow). US ones are 555-01xx.
PHONE_FORMATS = {
    "IN": ("+919", 9),
    "KR": ("+8210", 8),
    "JP": ("+8190", 8),
    "CN": ("+86138", 8),
    "US": ("+161755501", 2),
    "SG": ("+658", 7),
    "TW": ("+8869", 8),
}


class DemoStartup(NamedTuple):
    name: str
    domain: str
    country: str
    city: str
    source: str  # a key of SOURCES
    sectors: tuple[str, ...]
    tags: tuple[str, ...]
    programmes: tuple[str, ...]  # programme keys it is enrolled in
    description: str
    # A real firm from the delegation trips: no invented figures, people or outcomes.
    known: bool = False
    stage: str | None = None  # pins the stage of its enrollments
    assigned: bool = True  # False: nobody owns the lead yet


DEMO_STARTUPS = (
    # India: Karnataka–Düsseldorf Innovation Corridor
    DemoStartup(
        "Krishiflow", "krishiflow.example", "IN", "Bengaluru", "bts",
        ("Sustainability", "Green Tech"), ("agritech", "iot"), (CORRIDOR,),
        "Soil-moisture sensors and irrigation planning for smallholder farms.",
    ),
    DemoStartup(
        "Nirmaan Robotics", "nirmaan-robotics.example", "IN", "Bengaluru", "bts",
        ("Industry 4.0",), ("robotics", "manufacturing"), (CORRIDOR,),
        "Low-cost welding and palletising robots for small and mid-sized factories.",
    ),
    DemoStartup(
        "Aarogya Sense", "aarogyasense.example", "IN", "Bengaluru", "medica",
        ("Digital Health", "MedTech"), ("wearables", "remote-monitoring"),
        (CORRIDOR, WELCOME_DUS),
        "A chest patch that monitors cardiac patients at home and alerts their clinic.",
    ),
    DemoStartup(
        "Vayu Grid", "vayugrid.example", "IN", "Mysuru", "kits",
        ("Green Tech", "Sustainability"), ("energy", "storage"), (CORRIDOR,),
        "Battery storage and scheduling software for rooftop solar on industrial sites.",
    ),
    DemoStartup(
        "Tarang Networks", "tarang-networks.example", "IN", "Bengaluru", "ftf",
        ("5G", "Industry 4.0"), ("private-5g", "telecom"), (CORRIDOR,),
        "Private 5G campus networks for factories and ports, planned and run as a service.",
    ),
    DemoStartup(
        "Jeevan Genomics", "jeevangenomics.example", "IN", "Bengaluru", "medica",
        ("Life Sciences",), ("genomics", "diagnostics"), (CORRIDOR,),
        "Affordable genome sequencing panels for hereditary cancer risk.",
    ),
    DemoStartup(
        "Sutra Analytics", "sutra-analytics.example", "IN", "Mysuru", "swd",
        ("Industry 4.0",), ("predictive-maintenance", "saas"), (CORRIDOR,),
        "Predictive maintenance for CNC machines from vibration and power data.",
    ),
    DemoStartup(
        "Pravah Water", "pravahwater.example", "IN", "Hubballi", "kits",
        ("Sustainability",), ("water", "iot"), (CORRIDOR,),
        "Leak detection for municipal water networks with acoustic sensors.",
    ),
    DemoStartup(
        "MediKosh", "medikosh.example", "IN", "Bengaluru", "web",
        ("Digital Health",), ("ehr", "interoperability"), (CORRIDOR,),
        "Patient records that move between hospitals, built on FHIR.",
    ),
    DemoStartup(
        "Chakra Mobility", "chakramobility.example", "IN", "Bengaluru", "bts",
        ("Green Tech",), ("e-mobility", "batteries"), (CORRIDOR, WELCOME_NRW),
        "Swappable battery packs and stations for electric delivery three-wheelers.",
    ),
    DemoStartup(
        "Netra Vision", "netravision.example", "IN", "Mangaluru", "medica",
        ("MedTech", "Digital Health"), ("ophthalmology", "ai"), (CORRIDOR,),
        "Retina screening for diabetics with a smartphone camera and an AI model.",
    ),
    DemoStartup(
        "Kaveri Biologics", "kaveribio.example", "IN", "Mysuru", "kits",
        ("Life Sciences",), ("biotech", "enzymes"), (CORRIDOR,),
        "Industrial enzymes from fermentation for textile and food processing.",
    ),
    DemoStartup(
        "Udyog Twin", "udyogtwin.example", "IN", "Belagavi", "bts",
        ("Industry 4.0",), ("digital-twin", "foundry"), (CORRIDOR,),
        "Digital twins of foundries that cut scrap and energy use.",
    ),
    DemoStartup(
        "Sankhya Edge", "sankhyaedge.example", "IN", "Bengaluru", "import",
        ("5G",), ("edge-computing",), (),
        "Edge computing nodes that run vision models next to 5G base stations.",
    ),
    DemoStartup(
        "Hasiru Packaging", "hasiru.example", "IN", "Bengaluru", "bts",
        ("Sustainability", "Green Tech"), ("circular-economy", "packaging"), (),
        "Compostable packaging made from areca palm leaves and crop waste.",
    ),
    DemoStartup(
        "Dhwani Health", "dhwanihealth.example", "IN", "Bengaluru", "web",
        ("Digital Health",), ("telemedicine", "voice-ai"), (),
        "Voice-first telemedicine in Kannada, Hindi, Tamil and English.",
        assigned=False,
    ),
    # Korea: the mayor's delegation to Seoul and the Korea Desk
    DemoStartup(
        "Aimmo", "aimmo.example", "KR", "Seoul", "seoul",
        ("Industry 4.0",), ("ai", "training-data"), (KOREA_DESK,),
        "AI training data: labelling and curation of data for machine learning.",
        known=True, stage="call_held",
    ),
    DemoStartup(
        "Seegene", "seegene.example", "KR", "Seoul", "seoul",
        ("Life Sciences", "MedTech"), ("diagnostics", "pcr"), (KOREA_DESK,),
        "Molecular diagnostics: multiplex PCR tests.",
        known=True, stage="follow_up",
    ),
    DemoStartup(
        "Doosan Robotics", "doosanrobotics.example", "KR", "Suwon", "seoul",
        ("Industry 4.0",), ("robotics", "cobots"), (KOREA_DESK,),
        "Collaborative robots for manufacturing and services.",
        known=True, stage="follow_up",
    ),
    DemoStartup(
        "HD Hyundai", "hd-hyundai.example", "KR", "Seongnam", "seoul",
        ("Green Tech", "Industry 4.0"), ("shipbuilding", "energy"), (KOREA_DESK,),
        "Shipbuilding, marine engines and energy.",
        known=True, stage="met",
    ),
    DemoStartup(
        "Haneul Bio", "haneulbio.example", "KR", "Seoul", "seoul",
        ("Life Sciences",), ("biotech", "antibodies"), (KOREA_DESK,),
        "Antibody discovery on a high-throughput screening platform.",
    ),
    DemoStartup(
        "Nuri Hydrogen", "nurihydrogen.example", "KR", "Busan", "seoul",
        ("Green Tech",), ("hydrogen", "maritime"), (KOREA_DESK,),
        "Hydrogen fuel-cell power packs for harbour vessels.",
    ),
    DemoStartup(
        "Dabin Health", "dabinhealth.example", "KR", "Seoul", "seoul",
        ("Digital Health",), ("mental-health", "app"), (KOREA_DESK,),
        "Digital therapeutics for insomnia, prescribed through the clinic.",
    ),
    DemoStartup(
        "Sori Wave", "soriwave.example", "KR", "Daejeon", "seoul",
        ("5G",), ("antennas", "telecom"), (KOREA_DESK, WELCOME_NRW),
        "Millimetre-wave antenna modules for 5G small cells.",
    ),
    DemoStartup(
        "Mirae Factory AI", "miraefactory.example", "KR", "Changwon", "seoul",
        ("Industry 4.0",), ("quality-inspection", "ai"), (KOREA_DESK,),
        "Visual quality inspection for automotive parts lines.",
    ),
    DemoStartup(
        "Pureun Energy", "pureunenergy.example", "KR", "Busan", "seoul",
        ("Sustainability", "Green Tech"), ("recycling", "batteries"), (KOREA_DESK,),
        "Recovery of lithium and cobalt from used electric-car batteries.",
    ),
    DemoStartup(
        "Bom Medical", "bommedical.example", "KR", "Seoul", "medica",
        ("MedTech",), ("surgical-devices",), (WELCOME_DUS,),
        "Single-use endoscopes for urology.",
    ),
    DemoStartup(
        "Hanbit Robotics", "hanbitrobotics.example", "KR", "Incheon", "swd",
        ("Industry 4.0",), ("logistics", "robotics"), (WELCOME_NRW,),
        "Autonomous mobile robots for warehouse picking.",
    ),
    # Japan
    DemoStartup(
        "Kizuna Medical", "kizunamedical.example", "JP", "Tokyo", "medica",
        ("MedTech",), ("surgical-robotics",), (WELCOME_DUS,),
        "A compact robotic arm for minimally invasive surgery.",
    ),
    DemoStartup(
        "Hoshi Robotics", "hoshirobotics.example", "JP", "Osaka", "jetro",
        ("Industry 4.0",), ("robotics", "grippers"), (WELCOME_NRW,),
        "Soft robotic grippers for handling food and fragile parts.",
    ),
    DemoStartup(
        "Midori Carbon", "midoricarbon.example", "JP", "Tokyo", "swd",
        ("Green Tech", "Sustainability"), ("carbon-accounting", "saas"), (WELCOME_DUS,),
        "Carbon accounting for suppliers of the automotive industry.",
    ),
    DemoStartup(
        "Sakura Genomics", "sakuragenomics.example", "JP", "Kyoto", "jetro",
        ("Life Sciences",), ("genomics", "cell-therapy"), (WELCOME_NRW,),
        "Gene-editing tools for cell therapy manufacturing.",
    ),
    DemoStartup(
        "Tsunagu 5G", "tsunagu5g.example", "JP", "Tokyo", "ftf",
        ("5G",), ("network-slicing", "telecom"), (WELCOME_DUS,),
        "Network slicing software for event venues and stadiums.",
    ),
    DemoStartup(
        "Kaze Energy", "kazeenergy.example", "JP", "Fukuoka", "tokyo",
        ("Green Tech",), ("wind", "offshore"), (WELCOME_NRW,),
        "Floating offshore wind foundations for deep water.",
    ),
    DemoStartup(
        "Mamoru Care", "mamorucare.example", "JP", "Osaka", "jetro",
        ("Digital Health",), ("elderly-care", "sensors"), (WELCOME_DUS,),
        "Fall detection and care planning for nursing homes.",
    ),
    DemoStartup(
        "Hikari Diagnostics", "hikaridx.example", "JP", "Kobe", "medica",
        ("MedTech", "Life Sciences"), ("diagnostics", "point-of-care"), (WELCOME_NRW,),
        "Point-of-care blood analysers that work from a finger prick.",
    ),
    DemoStartup(
        "Takumi Sensorics", "takumisensorics.example", "JP", "Nagoya", "import",
        ("Industry 4.0",), ("sensors", "automotive"), (),
        "Torque and vibration sensors for electric drivetrains.",
    ),
    DemoStartup(
        "Umi Plastics Lab", "umiplastics.example", "JP", "Yokohama", "web",
        ("Sustainability",), ("bioplastics",), (),
        "Marine-degradable plastics for fishing gear.",
        assigned=False,
    ),
    # China
    DemoStartup(
        "Lingxi Robotics", "lingxirobotics.example", "CN", "Shenzhen", "ahk",
        ("Industry 4.0",), ("robotics", "machine-vision"), (WELCOME_NRW,),
        "Vision-guided robots for electronics assembly.",
    ),
    DemoStartup(
        "Qingyuan Battery", "qingyuanbattery.example", "CN", "Hangzhou", "ftf",
        ("Green Tech",), ("batteries", "storage"), (WELCOME_NRW,),
        "Sodium-ion cells for stationary energy storage.",
    ),
    DemoStartup(
        "Anxin Medical", "anxinmedical.example", "CN", "Shanghai", "medica",
        ("MedTech",), ("imaging", "ultrasound"), (WELCOME_DUS,),
        "Handheld ultrasound devices for emergency medicine.",
    ),
    DemoStartup(
        "Tianlan Bio", "tianlanbio.example", "CN", "Suzhou", "ahk",
        ("Life Sciences",), ("biotech", "vaccines"), (WELCOME_NRW,),
        "mRNA production platform for veterinary vaccines.",
    ),
    DemoStartup(
        "Xinlian IoT", "xinlianiot.example", "CN", "Shenzhen", "ftf",
        ("5G", "Industry 4.0"), ("iot", "modules"), (WELCOME_DUS,),
        "5G RedCap modules for industrial sensors.",
    ),
    DemoStartup(
        "Huanxin Recycling", "huanxin.example", "CN", "Hangzhou", "swd",
        ("Sustainability",), ("recycling", "textiles"), (WELCOME_DUS,),
        "Chemical recycling of polyester textiles into new fibre.",
    ),
    DemoStartup(
        "Yikang Health", "yikanghealth.example", "CN", "Hangzhou", "medica",
        ("Digital Health",), ("chronic-care", "app"), (WELCOME_NRW,),
        "Diabetes coaching app with connected glucose meters.",
    ),
    DemoStartup(
        "Zhiyun Twin", "zhiyuntwin.example", "CN", "Beijing", "ahk",
        ("Industry 4.0",), ("digital-twin", "buildings"), (WELCOME_DUS,),
        "Digital twins of factory buildings for energy management.",
    ),
    DemoStartup(
        "Guangming Solar", "guangmingsolar.example", "CN", "Wuxi", "import",
        ("Green Tech",), ("solar",), (),
        "Perovskite-silicon tandem solar cells.",
    ),
    # USA
    DemoStartup(
        "Harborline Health", "harborlinehealth.example", "US", "Boston", "medica",
        ("Digital Health",), ("hospital-operations", "saas"), (WELCOME_DUS,),
        "Bed and staff planning software for hospitals.",
    ),
    DemoStartup(
        "Lone Star Grid", "lonestargrid.example", "US", "Austin", "swd",
        ("Green Tech",), ("grid", "energy"), (WELCOME_NRW,),
        "Virtual power plants from commercial batteries and heat pumps.",
    ),
    DemoStartup(
        "Cobalt Bay Robotics", "cobaltbay.example", "US", "Pittsburgh", "gtai",
        ("Industry 4.0",), ("robotics", "inspection"), (WELCOME_NRW,),
        "Crawler robots that inspect pipes and tanks in chemical plants.",
    ),
    DemoStartup(
        "Beacon Cell Therapeutics", "beaconcell.example", "US", "Cambridge, MA", "gtai",
        ("Life Sciences",), ("cell-therapy", "oncology"), (WELCOME_DUS,),
        "Off-the-shelf CAR-NK cell therapies for solid tumours.",
    ),
    DemoStartup(
        "Spectrum Forge", "spectrumforge.example", "US", "Austin", "ftf",
        ("5G",), ("open-ran", "telecom"), (WELCOME_DUS,),
        "Open RAN software for private 5G networks.",
    ),
    DemoStartup(
        "Clearwater Carbon", "clearwatercarbon.example", "US", "Denver", "swd",
        ("Sustainability",), ("carbon-removal",), (WELCOME_NRW,),
        "Measurement and verification for carbon removal projects.",
    ),
    DemoStartup(
        "Pulsebridge Medical", "pulsebridge.example", "US", "Minneapolis", "medica",
        ("MedTech",), ("cardiology", "implants"), (WELCOME_DUS,),
        "Leadless pacemaker with a ten-year battery.",
    ),
    DemoStartup(
        "Northstar Genomics", "northstargenomics.example", "US", "Boston", "gtai",
        ("Life Sciences",), ("genomics", "rare-diseases"), (WELCOME_NRW,),
        "Whole-genome diagnostics for rare diseases in newborns.",
    ),
    DemoStartup(
        "Fieldnote AI", "fieldnote.example", "US", "San Francisco", "web",
        ("Industry 4.0",), ("ai", "field-service"), (),
        "An AI assistant for field service technicians.",
        assigned=False,
    ),
    DemoStartup(
        "Evergreen Loop", "evergreenloop.example", "US", "Seattle", "import",
        ("Sustainability", "Green Tech"), ("circular-economy", "logistics"), (),
        "Reusable shipping packaging as a service.",
    ),
    # Singapore and Taiwan
    DemoStartup(
        "Merlion MedTech", "merlionmedtech.example", "SG", "Singapore", "medica",
        ("MedTech",), ("wound-care",), (WELCOME_DUS,),
        "Smart wound dressings that report infection early.",
    ),
    DemoStartup(
        "Tembusu Energy", "tembusuenergy.example", "SG", "Singapore", "ftf",
        ("Green Tech",), ("cooling", "energy-efficiency"), (WELCOME_NRW,),
        "Energy-efficient cooling for data centres.",
    ),
    DemoStartup(
        "Formosa Edge", "formosaedge.example", "TW", "Hsinchu", "ftf",
        ("5G",), ("semiconductors", "edge-computing"), (WELCOME_NRW,),
        "Chips for 5G edge devices with on-board AI acceleration.",
    ),
)
