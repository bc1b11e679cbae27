"""Region (voivodeship) of a Polish shipping address from its postcode's first two digits.

Polish postcodes (PNA, "NN-NNN") were laid out in 1973 by postal districts: the first digit is the postal
district (0 Warsaw, 1 Białystok/Olsztyn, 2 Lublin/Kielce, 3 Kraków/Rzeszów, 4 Katowice/Opole, 5 Wrocław,
6 Poznań/Zielona Góra, 7 Szczecin, 8 Gdańsk/Bydgoszcz, 9 Łódź), the second a part of it. The districts
predate the 1999 voivodeships and do not follow their borders, so a 2-digit prefix is mapped to the
voivodeship where most of its post offices are. The prefixes known to cross a border are listed in
`APPROXIMATE` (e.g. 26: Radom and Przysucha are mazowieckie, Skarżysko and Końskie świętokrzyskie, Opoczno
łódzkie); sales by region are exact for the big cities and approximate near those borders.

Sources: the structure of PNA districts (Poczta Polska; Wikipedia "Postal codes in Poland"), the
voivodeships of the towns named per prefix (TERYT).
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

VOIVODESHIPS = {
    "dolnoslaskie": "dolnośląskie",
    "kujawsko-pomorskie": "kujawsko-pomorskie",
    "lubelskie": "lubelskie",
    "lubuskie": "lubuskie",
    "lodzkie": "łódzkie",
    "malopolskie": "małopolskie",
    "mazowieckie": "mazowieckie",
    "opolskie": "opolskie",
    "podkarpackie": "podkarpackie",
    "podlaskie": "podlaskie",
    "pomorskie": "pomorskie",
    "slaskie": "śląskie",
    "swietokrzyskie": "świętokrzyskie",
    "warminsko-mazurskie": "warmińsko-mazurskie",
    "wielkopolskie": "wielkopolskie",
    "zachodniopomorskie": "zachodniopomorskie",
}
ABROAD = "abroad"
UNKNOWN = "unknown"

# 2-digit prefix -> voivodeship key (the main towns of each prefix in the comment).
PREFIX: dict[str, str] = {
    **dict.fromkeys(["00", "01", "02", "03", "04", "05"], "mazowieckie"),  # Warszawa and around
    "06": "mazowieckie",  # Ciechanów, Mława, Pułtusk
    "07": "mazowieckie",  # Ostrołęka, Wyszków, Ostrów Mazowiecka
    "08": "mazowieckie",  # Siedlce, Mińsk Mazowiecki, Garwolin (08-5xx Ryki: lubelskie)
    "09": "mazowieckie",  # Płock, Płońsk, Sierpc
    "10": "warminsko-mazurskie",  # Olsztyn
    "11": "warminsko-mazurskie",  # Olsztyn area, Bartoszyce, Kętrzyn, Giżycko
    "12": "warminsko-mazurskie",  # Szczytno, Pisz
    "13": "warminsko-mazurskie",  # Nidzica, Działdowo
    "14": "warminsko-mazurskie",  # Ostróda, Iława, Braniewo
    "15": "podlaskie",  # Białystok
    "16": "podlaskie",  # Sokółka, Augustów, Suwałki
    "17": "podlaskie",  # Bielsk Podlaski, Hajnówka, Siemiatycze
    "18": "podlaskie",  # Łomża, Zambrów, Wysokie Mazowieckie
    "19": "warminsko-mazurskie",  # Ełk, Olecko, Gołdap (19-1xx Mońki, 19-2xx Grajewo: podlaskie)
    "20": "lubelskie",  # Lublin
    "21": "lubelskie",  # Biała Podlaska, Łuków, Lubartów
    "22": "lubelskie",  # Chełm, Zamość, Hrubieszów
    "23": "lubelskie",  # Kraśnik, Biłgoraj, Janów Lubelski
    "24": "lubelskie",  # Puławy, Opole Lubelskie
    "25": "swietokrzyskie",  # Kielce
    "26": "mazowieckie",  # Radom, Przysucha, Kozienice (26-0/1/2xx: świętokrzyskie; 26-3xx Opoczno: łódzkie)
    "27": "swietokrzyskie",  # Ostrowiec Świętokrzyski, Starachowice, Sandomierz
    "28": "swietokrzyskie",  # Busko-Zdrój, Jędrzejów, Pińczów, Staszów
    "29": "swietokrzyskie",  # Włoszczowa
    "30": "malopolskie",  # Kraków
    "31": "malopolskie",  # Kraków
    "32": "malopolskie",  # Wieliczka, Olkusz, Chrzanów, Oświęcim
    "33": "malopolskie",  # Tarnów, Nowy Sącz
    "34": "malopolskie",  # Wadowice, Nowy Targ, Zakopane (34-3xx Żywiec: śląskie)
    "35": "podkarpackie",  # Rzeszów
    "36": "podkarpackie",  # Rzeszów area, Kolbuszowa, Strzyżów
    "37": "podkarpackie",  # Przemyśl, Jarosław, Stalowa Wola
    "38": "podkarpackie",  # Krosno, Sanok, Jasło
    "39": "podkarpackie",  # Dębica, Mielec, Tarnobrzeg
    "40": "slaskie",  # Katowice
    "41": "slaskie",  # Bytom, Chorzów, Sosnowiec
    "42": "slaskie",  # Częstochowa, Tarnowskie Góry
    "43": "slaskie",  # Bielsko-Biała, Tychy, Cieszyn
    "44": "slaskie",  # Gliwice, Rybnik
    "45": "opolskie",  # Opole
    "46": "opolskie",  # Opole area, Kluczbork, Namysłów
    "47": "opolskie",  # Kędzierzyn-Koźle, Strzelce Opolskie (47-4xx Racibórz: śląskie)
    "48": "opolskie",  # Nysa, Prudnik
    "49": "opolskie",  # Brzeg
    **dict.fromkeys(["50", "51", "52", "53", "54"], "dolnoslaskie"),  # Wrocław
    "55": "dolnoslaskie",  # Wrocław area, Oława, Trzebnica
    "56": "dolnoslaskie",  # Oleśnica, Milicz, Góra
    "57": "dolnoslaskie",  # Kłodzko, Ząbkowice Śląskie
    "58": "dolnoslaskie",  # Wałbrzych, Jelenia Góra, Świdnica
    "59": "dolnoslaskie",  # Legnica, Lubin, Bolesławiec
    "60": "wielkopolskie",  # Poznań
    "61": "wielkopolskie",  # Poznań
    "62": "wielkopolskie",  # Gniezno, Konin, Kalisz area
    "63": "wielkopolskie",  # Ostrów Wielkopolski, Jarocin
    "64": "wielkopolskie",  # Leszno, Piła, Nowy Tomyśl
    "65": "lubuskie",  # Zielona Góra
    "66": "lubuskie",  # Gorzów Wielkopolski, Świebodzin, Międzyrzecz
    "67": "lubuskie",  # Nowa Sól, Wschowa (67-2xx Głogów: dolnośląskie)
    "68": "lubuskie",  # Żary, Żagań
    "69": "lubuskie",  # Słubice, Sulęcin
    "70": "zachodniopomorskie",  # Szczecin
    "71": "zachodniopomorskie",  # Szczecin
    "72": "zachodniopomorskie",  # Police, Goleniów, Świnoujście
    "73": "zachodniopomorskie",  # Stargard, Pyrzyce, Choszczno
    "74": "zachodniopomorskie",  # Gryfino, Myślibórz, Dębno
    "75": "zachodniopomorskie",  # Koszalin
    "76": "pomorskie",  # Słupsk, Ustka (76-1xx Sławno, Darłowo: zachodniopomorskie)
    "77": "pomorskie",  # Bytów, Miastko, Człuchów (77-4xx Złotów: wielkopolskie)
    "78": "zachodniopomorskie",  # Kołobrzeg, Białogard, Szczecinek, Wałcz
    "80": "pomorskie",  # Gdańsk
    "81": "pomorskie",  # Gdynia, Sopot
    "82": "pomorskie",  # Malbork, Kwidzyn, Sztum (82-3xx Elbląg: warmińsko-mazurskie)
    "83": "pomorskie",  # Starogard Gdański, Kościerzyna, Tczew
    "84": "pomorskie",  # Wejherowo, Lębork, Puck
    "85": "kujawsko-pomorskie",  # Bydgoszcz
    "86": "kujawsko-pomorskie",  # Świecie, Chełmno, Grudziądz
    "87": "kujawsko-pomorskie",  # Toruń, Włocławek, Brodnica
    "88": "kujawsko-pomorskie",  # Inowrocław, Mogilno, Żnin
    "89": "kujawsko-pomorskie",  # Nakło, Tuchola (89-6xx Chojnice: pomorskie; 89-3xx: wielkopolskie)
    **dict.fromkeys(["90", "91", "92", "93", "94"], "lodzkie"),  # Łódź
    "95": "lodzkie",  # Zgierz, Pabianice, Łask
    "96": "lodzkie",  # Skierniewice, Rawa Mazowiecka (96-3xx Żyrardów, 96-5xx Sochaczew: mazowieckie)
    "97": "lodzkie",  # Piotrków Trybunalski, Bełchatów, Tomaszów Mazowiecki
    "98": "lodzkie",  # Sieradz, Wieluń, Zduńska Wola
    "99": "lodzkie",  # Kutno, Łowicz, Łęczyca
}
# Prefixes whose post offices lie in more than one voivodeship: the table gives the main one.
APPROXIMATE = frozenset({"08", "19", "26", "34", "47", "67", "76", "77", "82", "89", "96"})
_POSTCODE = re.compile(r"^\s*(\d{2})-?\s?(\d{3})\s*$")


def region_of(country: str, postcode: str) -> str:
    """The voivodeship key of an address, `abroad` outside Poland, or `unknown` (no or malformed postcode,
    or the prefix 79, which no Polish post office uses). An empty country is taken as Poland (the default)."""
    country = (country or "").strip().upper()
    if country and country != "PL":
        return ABROAD
    match = _POSTCODE.match(postcode or "")
    if not match:
        return UNKNOWN
    return PREFIX.get(match.group(1), UNKNOWN)


def region_name(key: str) -> str:
    if key == ABROAD:
        return str(_("abroad"))
    if key == UNKNOWN:
        return str(_("unknown"))
    return VOIVODESHIPS.get(key, key)
