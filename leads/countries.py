"""Country names in English and German -> ISO 3166 alpha-2, for every channel (`leads.validation`).

The names come from the locale data that `phonenumbers` ships (English and German for every region it
knows), plus the short forms people write on trade-fair lists and in CSV files ("Holland", "USA", "BRD").
"""

import functools
import re
import unicodedata

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA

LANGUAGES = ("aa", "en", "de")  # "aa" is the locale data's default: the English name
# What people write that neither locale names (lower case, as `name_key` leaves it).
ALIASES = {
    "brd": "DE", "bundesrepublik deutschland": "DE", "federal republic of germany": "DE",
    "oesterreich": "AT", "suisse": "CH", "svizzera": "CH", "schweizerische eidgenossenschaft": "CH",
    "holland": "NL", "the netherlands": "NL", "die niederlande": "NL",
    "uk": "GB", "great britain": "GB", "grossbritannien": "GB", "großbritannien": "GB", "england": "GB",
    "scotland": "GB", "schottland": "GB", "wales": "GB", "vereinigtes königreich": "GB",
    "usa": "US", "u.s.a.": "US", "us": "US", "united states": "US", "united states of america": "US",
    "vereinigte staaten": "US", "amerika": "US", "america": "US",
    "tschechien": "CZ", "czechia": "CZ", "czech republic": "CZ",
    "russland": "RU", "russia": "RU", "südkorea": "KR", "south korea": "KR", "korea": "KR",
    "uae": "AE", "vae": "AE",
}


def name_key(value: str) -> str:
    """Case, accents-as-typed and spacing do not matter: "  Deutschland " == "deutschland"."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def _resolved(names: dict, language: str) -> str:
    name = names.get(language, "")
    while name.startswith("*"):  # "*aa": the same as that language's entry
        name = names.get(name[1:], "")
    return name


@functools.cache
def names() -> dict[str, str]:
    table: dict[str, str] = {}
    for region, localised in LOCALE_DATA.items():
        if region not in phonenumbers.SUPPORTED_REGIONS:
            continue
        for language in LANGUAGES:
            name = _resolved(localised, language)
            if name:
                table.setdefault(name_key(name), region)
                # "Korea, Republic of", "Iran (Islamic Republic of)": the part before the comma or bracket too
                short = re.split(r"[,(]", name, maxsplit=1)[0].strip()
                if short and short != name:
                    table.setdefault(name_key(short), region)
    table.update(ALIASES)
    return table


def country_code(value: str) -> str:
    """The ISO code of a country given by its code (any case) or its English or German name; "" if unknown."""
    key = name_key(value)
    if len(key) == 2 and key.upper() in phonenumbers.SUPPORTED_REGIONS:
        return key.upper()
    return names().get(key, "")


def name_of(code: str, language: str = "en") -> str:
    """The country's name in `language` (de or en), for showing a stored code."""
    localised = LOCALE_DATA.get(code or "", {})
    return _resolved(localised, language) or _resolved(localised, "aa") or code
