"""Invented but plausible names: startups, people, cities and events, in their own scripts.

Startups and people of Korea, Japan, China, Taiwan and India are often written in their own
script (Hangul, kana and kanji, Han characters, Devanagari), German ones with umlauts, the rest
in Latin letters: the search folding and duplicate keys get the text they meet in real use.
Every choice comes from the caller's `random.Random`, so a seed gives the same names.
"""

from __future__ import annotations

from random import Random

from anyascii import anyascii

from crm.core.enums import LeadSource
from crm.intake.steps import GENERAL_SECTORS

# Where startups come from, skewed as a desk's pipeline is (weights, not shares).
COUNTRY_WEIGHTS = {
    "IN": 22, "KR": 13, "JP": 11, "CN": 10, "US": 9, "DE": 7, "SG": 4, "IL": 4, "FR": 3.5,
    "GB": 3.5, "TW": 3, "NL": 1.5, "SE": 1.2, "ES": 1.2, "IT": 1.2, "BR": 1, "CA": 1, "AE": 1,
    "VN": 0.9, "ID": 0.8, "TR": 0.7, "PL": 0.6,
}
#: The share of a country's startups whose name is written in the country's own script.
OWN_SCRIPT_SHARE = {"KR": 0.45, "JP": 0.45, "CN": 0.5, "TW": 0.4, "IN": 0.15}

CITIES = {
    "IN": ("Bengaluru", "Mysuru", "Hubballi", "Mangaluru", "Pune", "Hyderabad", "Chennai",
           "Mumbai", "New Delhi", "Ahmedabad"),
    "KR": ("Seoul", "Busan", "Daejeon", "Incheon", "Seongnam", "Suwon", "Daegu", "Gwangju"),
    "JP": ("Tokyo", "Osaka", "Kyoto", "Nagoya", "Fukuoka", "Yokohama", "Kobe", "Sapporo"),
    "CN": ("Shenzhen", "Hangzhou", "Shanghai", "Beijing", "Suzhou", "Wuxi", "Guangzhou",
           "Chengdu"),
    "US": ("Boston", "Austin", "San Francisco", "New York", "Pittsburgh", "Seattle", "Denver"),
    "DE": ("Düsseldorf", "Köln", "München", "Berlin", "Würzburg", "Mönchengladbach", "Essen",
           "Lübeck", "Nürnberg"),
    "SG": ("Singapore",),
    "IL": ("Tel Aviv", "Haifa", "Jerusalem", "Be'er Sheva"),
    "FR": ("Paris", "Lyon", "Montréal-la-Cluse", "Nantes", "Grenoble", "Orléans"),
    "GB": ("London", "Manchester", "Cambridge", "Edinburgh", "Bristol"),
    "TW": ("Taipei", "Hsinchu", "Taichung", "Kaohsiung"),
}
DEFAULT_CITIES = ("Amsterdam", "Stockholm", "Barcelona", "Milano", "São Paulo", "Toronto",
                  "Dubai", "Hà Nội", "Jakarta", "İstanbul", "Kraków")

# Startup names -------------------------------------------------------------------------------

_LATIN_STEMS = {
    "IN": ("Krishi", "Nirmaan", "Vayu", "Tarang", "Jeevan", "Sutra", "Pravah", "Chakra", "Netra",
           "Kaveri", "Udyog", "Sankhya", "Hasiru", "Dhwani", "Aarogya", "Prakash", "Shakti",
           "Vidya", "Agni", "Dhara", "Surya", "Megh", "Kiran", "Setu", "Yantra", "Anant",
           "Tejas", "Ojas", "Pragati", "Sparsh"),
    "KR": ("Haneul", "Nuri", "Dabin", "Sori", "Mirae", "Pureun", "Bom", "Hanbit", "Bada",
           "Byeol", "Garam", "Narae", "Onnuri", "Saebom", "Doosan", "Seoha", "Ieum", "Dasom"),
    "JP": ("Sakura", "Midori", "Hikari", "Hoshi", "Kaze", "Umi", "Tsunagu", "Mamoru", "Kizuna",
           "Takumi", "Mirai", "Sora", "Yume", "Aozora", "Kibo", "Shinrai"),
    "CN": ("Lingxi", "Qingyuan", "Anxin", "Tianlan", "Xinlian", "Huanxin", "Yikang", "Zhiyun",
           "Guangming", "Huaxin", "Xinghai", "Yunfan", "Jiahe", "Ruiyi"),
    "TW": ("Formosa", "Yushan", "Lanyu", "Hengchun", "Jade Mountain", "Taroko"),
    "DE": ("Rheinland", "Nordstern", "Elbe", "Kö", "Medienhafen", "Ruhrwerk", "Zollverein"),
    "US": ("Harborline", "Lone Star", "Cobalt Bay", "Beacon", "Spectrum", "Clearwater",
           "Pulsebridge", "Northstar", "Fieldnote", "Evergreen", "Redwood", "Granite",
           "Bluebird", "Summit", "Ironwood", "Silverline"),
    "IL": ("Shalev", "Zohar", "Or", "Tamar", "Yael", "Negev", "Carmel", "Galil"),
    "FR": ("Lumière", "Étoile", "Côté", "Pléiade", "Boréal", "Mistral", "Océane", "Sérénité"),
}
_DEFAULT_LATIN_STEMS = ("Nova", "Aurora", "Vertex", "Helix", "Orbit", "Atlas", "Zenith", "Lumen",
                        "Kite", "Pixel", "Quanta", "Terra", "Vela", "Nimbus", "Arbor", "Delta")
_LATIN_SUFFIXES = ("Robotics", "Labs", "Health", "Energy", "Analytics", "Systems", "Networks",
                   "Bio", "Mobility", "AI", "Sensorics", "Medical", "Grid", "Cloud", "Tech",
                   "Logistics", "Foods", "Water", "Materials", "Vision", "Security", "Payments",
                   "Learning", "Twin", "Works", "Dynamics", "Diagnostics", "Photonics",
                   "Quantum", "Data", "Genomics", "Edge", "Carbon", "Care")
_LEGAL_FORMS = {
    "IN": ("Pvt Ltd", "Private Limited", "", ""), "US": ("Inc.", "LLC", "", ""),
    "GB": ("Ltd", "Limited", ""), "FR": ("SAS", "SA", ""), "SG": ("Pte Ltd", ""),
    "IL": ("Ltd", ""), "KR": ("Co., Ltd.", "Inc.", ""), "JP": ("K.K.", "Inc.", ""),
    "CN": ("Co., Ltd.", ""), "TW": ("Co., Ltd.", ""), "DE": ("GmbH", "GmbH", "UG", "AG"),
}
_DEFAULT_LEGAL_FORMS = ("B.V.", "AB", "S.L.", "S.r.l.", "Ltda.", "Inc.", "")

_GERMAN_STEMS = ("Grün", "Rhein", "Müller", "Schön", "Löwen", "Höhen", "Flügel", "Kühl",
                 "Sonnen", "Wald", "Brücken", "Stahl", "Glück", "Nürn", "Fröhlich", "Weiß",
                 "Bär", "Größ", "Schüler", "Küsten", "Mühlen", "Jäger", "Förster", "Fuchs")
_GERMAN_SUFFIXES = ("werk", "technik", "energie", "robotik", "medizin", "logistik", "daten",
                    "wärme", "kraft", "bau", "funk", "licht", "stoff", "kühlung", "sensorik")

_OWN_SCRIPT = {
    # (stems, suffixes, how a name is put together from stem, suffix and the legal form)
    "IN": (("कृषि", "निर्माण", "वायु", "तरंग", "जीवन", "सूत्र", "प्रवाह", "चक्र", "नेत्र", "उद्योग",
            "शक्ति", "सूर्य", "किरण", "सेतु", "यंत्र", "आरोग्य"),
           ("टेक", "लैब्स", "हेल्थ", "एनर्जी", "रोबोटिक्स", "सिस्टम्स", "नेटवर्क्स", "एआई"),
           ("{stem} {suffix}", "{stem}{suffix} प्राइवेट लिमिटेड")),
    "KR": (("하늘", "누리", "다빈", "소리", "미래", "푸른", "봄", "한빛", "바다", "별", "가람",
            "나래", "온누리", "새봄", "두산", "이음", "다솜", "서하"),
           ("로보틱스", "바이오", "헬스케어", "에너지", "테크", "랩스", "모빌리티", "네트웍스",
            "메디칼", "소프트"),
           ("{stem}{suffix}", "주식회사 {stem}{suffix}", "(주){stem}{suffix}", "{stem} {suffix}")),
    "JP": (("さくら", "ミドリ", "ひかり", "ほし", "かぜ", "うみ", "つなぐ", "まもる", "光", "星",
            "風", "海", "匠", "絆", "未来", "青空"),
           ("テック", "ロボティクス", "メディカル", "バイオ", "エナジー", "ラボ", "システムズ",
            "診断", "技研", "工業"),
           ("{stem}{suffix}", "株式会社{stem}{suffix}", "{stem}{suffix}株式会社")),
    "CN": (("灵犀", "清源", "安心", "天蓝", "新联", "焕新", "益康", "智云", "光明", "华芯",
            "星海", "云帆", "嘉禾", "睿医"),
           ("科技", "机器人", "生物", "医疗", "能源", "智能", "电池", "数据"),
           ("{city}{stem}{suffix}有限公司", "{stem}{suffix}", "{city}{stem}{suffix}股份有限公司")),
    "TW": (("聯網", "玉山", "晶創", "台光", "新竹", "宏遠", "鼎新", "智聯"),
           ("科技", "電子", "生技", "醫療", "能源", "半導體"),
           ("{stem}{suffix}股份有限公司", "{stem}{suffix}")),
}
_CN_CITIES = ("深圳", "杭州", "上海", "北京", "苏州", "无锡", "广州", "成都")


def startup_name(rng: Random, country: str) -> str:
    """A startup name as it would be typed in: own script, German or Latin with a legal form."""
    if rng.random() < OWN_SCRIPT_SHARE.get(country, 0):
        stems, suffixes, patterns = _OWN_SCRIPT[country]
        return rng.choice(patterns).format(stem=rng.choice(stems), suffix=rng.choice(suffixes),
                                           city=rng.choice(_CN_CITIES))
    if country == "DE" and rng.random() < 0.7:
        name = rng.choice(_GERMAN_STEMS) + rng.choice(_GERMAN_SUFFIXES)
        return f"{name} {rng.choice(_LEGAL_FORMS['DE'])}"
    stem = rng.choice(_LATIN_STEMS.get(country, _DEFAULT_LATIN_STEMS))
    legal = rng.choice(_LEGAL_FORMS.get(country, _DEFAULT_LEGAL_FORMS))
    return " ".join(part for part in (stem, rng.choice(_LATIN_SUFFIXES), legal) if part)


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits joined by hyphens (for domains and addresses)."""
    ascii_text = "".join(char if char.isalnum() else " " for char in anyascii(text).lower())
    return "-".join(ascii_text.split())


# People --------------------------------------------------------------------------------------

# (Latin, own script) pairs; for the Latin-only countries the second is the same.
_PEOPLE = {
    "KR": ((("Kim", "김"), ("Lee", "이"), ("Park", "박"), ("Choi", "최"), ("Jung", "정"),
            ("Kang", "강"), ("Yoon", "윤"), ("Han", "한"), ("Cho", "조"), ("Shin", "신")),
           (("Min-jun", "민준"), ("Seo-yeon", "서연"), ("Ji-hoon", "지훈"), ("Yu-na", "유나"),
            ("Hyun-woo", "현우"), ("Da-eun", "다은"), ("Sung-min", "성민"), ("Ji-yeon", "지연"),
            ("Do-hyun", "도현"), ("Soo-ah", "수아"))),
    "JP": ((("Sato", "佐藤"), ("Suzuki", "鈴木"), ("Takahashi", "高橋"), ("Tanaka", "田中"),
            ("Watanabe", "渡辺"), ("Ito", "伊藤"), ("Yamamoto", "山本"), ("Nakamura", "中村")),
           (("Yui", "結衣"), ("Takumi", "拓海"), ("Haruto", "陽翔"), ("Aoi", "葵"), ("Ren", "蓮"),
            ("Mei", "芽衣"), ("Sota", "颯太"), ("Hina", "陽菜"))),
    "CN": ((("Zhang", "张"), ("Wang", "王"), ("Li", "李"), ("Liu", "刘"), ("Chen", "陈"),
            ("Zhao", "赵"), ("Huang", "黄"), ("Zhou", "周")),
           (("Wei", "伟"), ("Fang", "芳"), ("Na", "娜"), ("Yang", "洋"), ("Jing", "静"),
            ("Lei", "磊"), ("Min", "敏"), ("Jie", "杰"))),
    "TW": ((("Chen", "陳"), ("Lin", "林"), ("Huang", "黃"), ("Chang", "張"), ("Lee", "李")),
           (("Yi-ting", "怡婷"), ("Chia-hao", "家豪"), ("Po-wei", "柏瑋"), ("Shu-fen", "淑芬"))),
}
_LATIN_PEOPLE = {
    "IN": (("Rao", "Hegde", "Gowda", "Shetty", "Iyer", "Nair", "Kulkarni", "Reddy", "Prasad",
            "Desai", "Sharma", "Patel", "Menon", "Bhat"),
           ("Ananya", "Vikram", "Deepa", "Rahul", "Kavya", "Arjun", "Meera", "Sandeep", "Lakshmi",
            "Rohan", "Priya", "Aditya", "Sneha", "Karthik")),
    "DE": (("Müller", "Schröder", "Köhler", "Böhm", "Krüger", "Weiß", "Günther", "Schäfer",
            "Hoffmann", "Wagner", "Fuß", "Jäger"),
           ("Jürgen", "Sören", "Jörg", "Käthe", "Björn", "Lena", "Max", "Anna", "Lukas", "Jonas",
            "Mia", "Hannah")),
    "FR": (("Lefèvre", "Dubois", "Moreau", "Girard", "Bérard", "Faure", "Rousseau"),
           ("Élodie", "Zoé", "Chloé", "Léa", "Mathéo", "Noël", "Hélène", "Théo")),
    "IL": (("Cohen", "Levi", "Mizrahi", "Peretz", "Biton", "Friedman"),
           ("Noa", "Yael", "Itai", "Omer", "Tamar", "Eitan")),
}
_DEFAULT_PEOPLE = (("Carter", "Johnson", "Kim", "Nguyen", "Alvarez", "O'Brien", "Goldberg",
                    "Walsh", "Tan", "Rahman", "Pillai", "Lim", "Smith", "Rossi", "Silva"),
                   ("Emily", "Marcus", "Sarah", "David", "Jessica", "Michael", "Rachel", "Brian",
                    "Wei Ming", "Aisyah", "Rajesh", "Hui Min", "Olivia", "Lucas", "Sofia"))


def person_name(rng: Random, country: str) -> tuple[str, str]:
    """A person's name as shown (with their own script in brackets) and an e-mail local part."""
    if country in _PEOPLE:
        families, givens = _PEOPLE[country]
        (family, family_own), (given, given_own) = rng.choice(families), rng.choice(givens)
        own = family_own + given_own
        shown = (f"{given} {family} ({own})" if country == "JP"
                 else f"{family} {given} ({own})")
        return shown, f"{slug(given).replace('-', '')}.{slug(family)}"
    families, givens = _LATIN_PEOPLE.get(country, _DEFAULT_PEOPLE)
    given, family = rng.choice(givens), rng.choice(families)
    return f"{given} {family}", f"{slug(given).replace('-', '')}.{slug(family).replace('-', '')}"


# Staff of the desk: German and international, umlauts included.
STAFF_GIVEN = ("Katharina", "Stefan", "Priya", "Ji-woo", "Haruka", "Lukas", "Mehmet", "Jürgen",
               "Sören", "Anja", "Björn", "Elif", "Thomas", "Sabine", "Rajesh", "Mei", "Jonas",
               "Käthe", "Felix", "Aylin", "Hannah", "Dominik", "Yuki", "Minh")
STAFF_FAMILY = ("Vogel", "Hoffmann", "Raghavan", "Park", "Sato", "Brenner", "Yılmaz", "Müller",
                "Schröder", "Köhler", "Böhm", "Demir", "Weiß", "Krüger", "Iyer", "Lin",
                "Schäfer", "Jäger", "Nguyen", "Fuß")

# Where leads come from --------------------------------------------------------------------

SOURCE_WEIGHTS = {LeadSource.EVENT: 38, LeadSource.DELEGATION: 14, LeadSource.REFERRAL: 18,
                  LeadSource.WEB: 16, LeadSource.IMPORT: 10, LeadSource.OTHER: 4}
SOURCE_DETAILS = {
    LeadSource.EVENT: ("Bengaluru Tech Summit 2025", "Bengaluru Tech Summit 2026", "MEDICA 2025",
                       "MEDICA 2026", "Hannover Messe 2026", "Startup Week Düsseldorf 2026",
                       "Future Tech Fest 2026", "COMPUTEX 2026", "CES 2026", "VivaTech 2026",
                       "Slush 2025", "Web Summit 2025", "Smart Country Convention 2026",
                       "K 2025 Düsseldorf", "boot Düsseldorf 2026"),
    LeadSource.DELEGATION: ("Mayor's delegation Seoul 2026", "NRW delegation Tokyo 2026",
                            "NRW delegation Bengaluru 2025", "Delegation Shenzhen 2025",
                            "Delegation Tel Aviv 2026"),
    LeadSource.REFERRAL: ("Karnataka Startup Cell", "JETRO Düsseldorf", "AHK Greater China",
                          "Germany Trade & Invest, New York", "KOTRA Frankfurt",
                          "NRW.Global Business", "IHK Düsseldorf"),
    LeadSource.WEB: ("Welcome Package web form", "Website contact form"),
    LeadSource.IMPORT: ("Lead list Hannover Messe 2026", "Lead list MEDICA 2025",
                        "Lead list Startup Week Düsseldorf 2026"),
    LeadSource.OTHER: (None,),
}

# Sectors as the application form offers them (the programmes' focus sectors are among them).
SECTOR_WEIGHTS = dict(zip(GENERAL_SECTORS, (14, 12, 8, 5, 6, 5, 6, 10, 9, 8, 6, 7, 5, 3, 3, 2),
                          strict=True))
TAGS = ("ai", "robotics", "iot", "saas", "hardware", "b2b", "deeptech", "hot-lead", "spin-off",
        "investor-intro", "female-founders", "university", "export-ready", "needs-visa",
        "coworking", "trade-fair", "follow-up", "eu-funding")

ACTIVITY_BODIES = ("", "", "", "Founders want to open a GmbH in Düsseldorf next year.",
                   "Asked for the list of coworking spaces near the Medienhafen.",
                   "Follow up in two weeks about the residence permit appointment.",
                   "Interested in the NRW.Global Business welcome package.",
                   "Sent the pitch deck; waiting for the numbers of the last round.")
