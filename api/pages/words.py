"""The pages' own words in the languages the presets are written in, and which
language a request gets: `?lang=`, else the switch's cookie, else the browser's
`Accept-Language`, else the pipeline's own language.

Phase and action labels come from the pipelines (their YAML); these are the
words around them. A missing word falls back to English.
"""

from __future__ import annotations

import re

LANGUAGES = ("en", "nl", "de", "fr", "es")
NAMES = {
    "en": "English",
    "nl": "Nederlands",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
}
LANGUAGE_COOKIE = "phaselog_lang"

# key: (en, nl, de, fr, es)
_WORDS: dict[str, tuple[str, str, str, str, str]] = {
    "pipelines": ("Pipelines", "Pijplijnen", "Pipelines", "Pipelines", "Embudos"),
    "board": ("Board", "Bord", "Board", "Tableau", "Tablero"),
    "funnel": ("Funnel", "Trechter", "Trichter", "Entonnoir", "Embudo"),
    "time_in_stage": (
        "Time in stage",
        "Tijd per fase",
        "Zeit je Phase",
        "Temps par étape",
        "Tiempo por etapa",
    ),
    "stale": (
        "Stale deals",
        "Stilliggende deals",
        "Liegengebliebene Deals",
        "Affaires en sommeil",
        "Negocios estancados",
    ),
    "lost_reasons": (
        "Lost reasons",
        "Verliesredenen",
        "Verlustgründe",
        "Raisons de perte",
        "Motivos de pérdida",
    ),
    "sign_in": ("Sign in", "Inloggen", "Anmelden", "Se connecter", "Iniciar sesión"),
    "sign_out": ("Sign out", "Uitloggen", "Abmelden", "Se déconnecter", "Salir"),
    "api_key": ("API key", "API-sleutel", "API-Schlüssel", "Clé d'API", "Clave API"),
    "sign_in_help": (
        "Sign in with your phaselog API key; it is kept in a cookie of this "
        "browser only.",
        "Log in met je phaselog API-sleutel; die blijft alleen in een cookie "
        "van deze browser.",
        "Melden Sie sich mit Ihrem phaselog-API-Schlüssel an; er bleibt nur in "
        "einem Cookie dieses Browsers.",
        "Connectez-vous avec votre clé d'API phaselog ; elle reste dans un cookie "
        "de ce navigateur uniquement.",
        "Inicie sesión con su clave API de phaselog; se guarda solo en una cookie "
        "de este navegador.",
    ),
    "wrong_key": (
        "This key is not valid (unknown or revoked).",
        "Deze sleutel is niet geldig (onbekend of ingetrokken).",
        "Dieser Schlüssel ist ungültig (unbekannt oder widerrufen).",
        "Cette clé n'est pas valide (inconnue ou révoquée).",
        "Esta clave no es válida (desconocida o revocada).",
    ),
    "signed_in_as": (
        "Signed in as",
        "Ingelogd als",
        "Angemeldet als",
        "Connecté en tant que",
        "Sesión de",
    ),
    "open_mode": (
        "Open mode: no API key exists, everyone on this machine is admin.",
        "Open modus: er bestaat geen API-sleutel, iedereen op deze machine is admin.",
        "Offener Modus: kein API-Schlüssel vorhanden, jeder auf diesem Rechner "
        "ist Admin.",
        "Mode ouvert : aucune clé d'API, tout le monde sur cette machine est admin.",
        "Modo abierto: no hay claves API, todos en esta máquina son admin.",
    ),
    "forbidden": (
        "Your role ({role}) may not see this page; it needs {needs}.",
        "Je rol ({role}) mag deze pagina niet zien; daarvoor is {needs} nodig.",
        "Ihre Rolle ({role}) darf diese Seite nicht sehen; sie braucht {needs}.",
        "Votre rôle ({role}) ne permet pas de voir cette page ; il faut {needs}.",
        "Su rol ({role}) no puede ver esta página; requiere {needs}.",
    ),
    "owner": ("Owner", "Eigenaar", "Verantwortlich", "Responsable", "Responsable"),
    "object": ("Object", "Object", "Objekt", "Bien", "Inmueble"),
    "contact": ("Contact", "Contact", "Kontakt", "Contact", "Contacto"),
    "my_pipeline": (
        "My pipeline",
        "Mijn pijplijn",
        "Meine Pipeline",
        "Mon pipeline",
        "Mi embudo",
    ),
    "everyone": ("Everyone", "Iedereen", "Alle", "Tous", "Todos"),
    "apply": ("Apply", "Toepassen", "Anwenden", "Appliquer", "Aplicar"),
    "clear": ("Clear", "Wissen", "Zurücksetzen", "Effacer", "Borrar"),
    "deals": ("{n} deals", "{n} deals", "{n} Deals", "{n} affaires", "{n} negocios"),
    "deal": ("{n} deal", "{n} deal", "{n} Deal", "{n} affaire", "{n} negocio"),
    "days": ("{n} d", "{n} d", "{n} T", "{n} j", "{n} d"),
    "days_long": ("{n} days", "{n} dagen", "{n} Tage", "{n} jours", "{n} días"),
    "days_in_phase": (
        "Days in phase",
        "Dagen in fase",
        "Tage in Phase",
        "Jours dans l'étape",
        "Días en la etapa",
    ),
    "overdue": (
        "{n} days overdue",
        "{n} dagen over tijd",
        "{n} Tage überfällig",
        "{n} jours de retard",
        "{n} días de retraso",
    ),
    "more": ("{n} more", "nog {n}", "{n} weitere", "{n} de plus", "{n} más"),
    "all_as_csv": (
        "all as CSV",
        "alles als CSV",
        "alle als CSV",
        "tout en CSV",
        "todo en CSV",
    ),
    "no_deals": (
        "No deals",
        "Geen deals",
        "Keine Deals",
        "Aucune affaire",
        "Sin negocios",
    ),
    "paused": ("Paused", "Gepauzeerd", "Pausiert", "En pause", "En pausa"),
    "closed": ("Closed", "Afgesloten", "Abgeschlossen", "Clôturées", "Cerrados"),
    "total": ("Total", "Totaal", "Summe", "Total", "Total"),
    "amount": ("Amount", "Bedrag", "Betrag", "Montant", "Importe"),
    "weighted": ("Weighted", "Gewogen", "Gewichtet", "Pondéré", "Ponderado"),
    "forecast": (
        "Weighted forecast",
        "Gewogen prognose",
        "Gewichtete Prognose",
        "Prévision pondérée",
        "Previsión ponderada",
    ),
    "forecast_rule": (
        "Open deals' amounts × their phase's probability.",
        "Bedragen van open deals × de kans van hun fase.",
        "Beträge offener Deals × Wahrscheinlichkeit ihrer Phase.",
        "Montants des affaires ouvertes × probabilité de leur étape.",
        "Importes de negocios abiertos × probabilidad de su etapa.",
    ),
    "phase": ("Phase", "Fase", "Phase", "Étape", "Etapa"),
    "probability": (
        "Probability",
        "Kans",
        "Wahrscheinlichkeit",
        "Probabilité",
        "Probabilidad",
    ),
    "reached": ("Reached", "Bereikt", "Erreicht", "Atteintes", "Alcanzadas"),
    "passed": ("Passed", "Gepasseerd", "Durchlaufen", "Passées", "Superadas"),
    "current": ("Now in it", "Nu erin", "Jetzt darin", "Actuellement", "Ahora en ella"),
    "conversion": (
        "To next",
        "Naar volgende",
        "Zur nächsten",
        "Vers la suivante",
        "A la siguiente",
    ),
    "win_rate": (
        "Win rate",
        "Winratio",
        "Gewinnquote",
        "Taux de réussite",
        "Tasa de éxito",
    ),
    "won": ("Won", "Gewonnen", "Gewonnen", "Gagnées", "Ganados"),
    "lost": ("Lost", "Verloren", "Verloren", "Perdues", "Perdidos"),
    "open": ("Open", "Open", "Offen", "Ouvertes", "Abiertos"),
    "funnel_rule": (
        "Reached: deals that entered the phase. Passed: deals that entered it or "
        "any later phase. To next: passed the next phase ÷ passed this one. "
        "Win rate: won ÷ (won + lost). Deals opened in the period.",
        "Bereikt: deals die de fase binnengingen. Gepasseerd: deals die hem of "
        "een latere fase bereikten. Naar volgende: gepasseerd volgende ÷ "
        "gepasseerd deze. Winratio: gewonnen ÷ (gewonnen + verloren). Deals "
        "geopend in de periode.",
        "Erreicht: Deals, die in die Phase kamen. Durchlaufen: Deals, die sie "
        "oder eine spätere erreichten. Zur nächsten: durchlaufen nächste ÷ "
        "durchlaufen diese. Gewinnquote: gewonnen ÷ (gewonnen + verloren). "
        "Deals, die im Zeitraum eröffnet wurden.",
        "Atteintes : affaires entrées dans l'étape. Passées : entrées dans "
        "celle-ci ou une suivante. Vers la suivante : passées la suivante ÷ "
        "passées celle-ci. Taux de réussite : gagnées ÷ (gagnées + perdues). "
        "Affaires ouvertes dans la période.",
        "Alcanzadas: negocios que entraron en la etapa. Superadas: entraron en "
        "ella o en una posterior. A la siguiente: superadas la siguiente ÷ "
        "superadas esta. Tasa de éxito: ganados ÷ (ganados + perdidos). "
        "Negocios abiertos en el periodo.",
    ),
    "since": ("From", "Van", "Von", "Du", "Desde"),
    "until": ("Until", "Tot en met", "Bis", "Au", "Hasta"),
    "count": ("Stays", "Verblijven", "Aufenthalte", "Passages", "Estancias"),
    "mean": ("Mean", "Gemiddeld", "Mittel", "Moyenne", "Media"),
    "median": ("Median", "Mediaan", "Median", "Médiane", "Mediana"),
    "p90": ("90th pct.", "90e pct.", "90. Pz.", "90e cent.", "Pct. 90"),
    "age_now": (
        "Median age now",
        "Mediane leeftijd nu",
        "Medianes Alter jetzt",
        "Âge médian actuel",
        "Antigüedad mediana actual",
    ),
    "stages_rule": (
        "Completed stays in days; deals now in a phase by their age there.",
        "Afgesloten verblijven in dagen; deals nu in een fase naar hun leeftijd.",
        "Abgeschlossene Aufenthalte in Tagen; aktuelle Deals nach ihrem Alter.",
        "Passages terminés en jours ; affaires actuelles selon leur âge.",
        "Estancias completadas en días; negocios actuales según su antigüedad.",
    ),
    "stale_since": (
        "Stale since",
        "Stil sinds",
        "Liegt seit",
        "En sommeil depuis",
        "Estancado desde",
    ),
    "no_stale": (
        "No stale deals.",
        "Geen stilliggende deals.",
        "Keine liegengebliebenen Deals.",
        "Aucune affaire en sommeil.",
        "Ningún negocio estancado.",
    ),
    "reason": ("Reason", "Reden", "Grund", "Raison", "Motivo"),
    "no_reason": (
        "(no reason asked)",
        "(geen reden gevraagd)",
        "(kein Grund verlangt)",
        "(aucune raison demandée)",
        "(sin motivo pedido)",
    ),
    "details": ("Details", "Details", "Details", "Détails", "Detalles"),
    "no_lost": (
        "No lost deals.",
        "Geen verloren deals.",
        "Keine verlorenen Deals.",
        "Aucune affaire perdue.",
        "Ningún negocio perdido.",
    ),
    "timeline": ("Timeline", "Tijdlijn", "Verlauf", "Chronologie", "Cronología"),
    "as_of": ("As of", "Per", "Stand", "Au", "A fecha de"),
    "known_at": ("Known at", "Bekend op", "Bekannt am", "Connu le", "Conocido el"),
    "replay": ("Replay", "Afspelen", "Abspielen", "Rejouer", "Reproducir"),
    "replayed": (
        "Replayed: as of {as_of}, as known at {known_at}.",
        "Afgespeeld: per {as_of}, zoals bekend op {known_at}.",
        "Abgespielt: Stand {as_of}, wie bekannt am {known_at}.",
        "Rejoué : au {as_of}, tel que connu le {known_at}.",
        "Reproducido: a fecha de {as_of}, tal como se conocía el {known_at}.",
    ),
    "now": ("now", "nu", "jetzt", "maintenant", "ahora"),
    "happened": ("Happened", "Gebeurd", "Geschehen", "Survenu", "Ocurrido"),
    "recorded": ("Recorded", "Vastgelegd", "Erfasst", "Enregistré", "Registrado"),
    "recorded_by": (
        "Recorded by",
        "Vastgelegd door",
        "Erfasst von",
        "Enregistré par",
        "Registrado por",
    ),
    "on_behalf_of": (
        "on behalf of",
        "namens",
        "im Auftrag von",
        "pour le compte de",
        "en nombre de",
    ),
    "entry": ("Entry", "Regel", "Eintrag", "Entrée", "Entrada"),
    "effect": ("Effect", "Effect", "Wirkung", "Effet", "Efecto"),
    "voided_by": (
        "voided by",
        "vervallen door",
        "storniert durch",
        "annulé par",
        "anulado por",
    ),
    "voids": ("voids", "vernietigt", "storniert", "annule", "anula"),
    "note": ("Note", "Notitie", "Notiz", "Note", "Nota"),
    "phase_now": ("Phase", "Fase", "Phase", "Étape", "Etapa"),
    "no_phase": (
        "no phase (withdrawn)",
        "geen fase (ingetrokken)",
        "keine Phase (zurückgezogen)",
        "aucune étape (retirée)",
        "sin etapa (retirado)",
    ),
    "opened": ("Opened", "Geopend", "Eröffnet", "Ouverte", "Abierto"),
    "language": ("Language", "Taal", "Sprache", "Langue", "Idioma"),
    "not_found": (
        "Not found",
        "Niet gevonden",
        "Nicht gefunden",
        "Introuvable",
        "No encontrado",
    ),
    "invalid": (
        "Invalid input",
        "Ongeldige invoer",
        "Ungültige Eingabe",
        "Saisie invalide",
        "Entrada no válida",
    ),
    "no_pipelines": (
        "No pipeline is registered yet.",
        "Er is nog geen pijplijn geregistreerd.",
        "Noch ist keine Pipeline registriert.",
        "Aucun pipeline n'est encore enregistré.",
        "Aún no hay embudos registrados.",
    ),
    "api_docs": (
        "API docs",
        "API-documentatie",
        "API-Doku",
        "Doc. de l'API",
        "Docs de la API",
    ),
    # What an entry did, as the timeline names it (domain.history's effects).
    "moved": ("moved", "verplaatst", "verschoben", "déplacée", "movido"),
    "resumed": ("resumed", "hervat", "fortgesetzt", "reprise", "reanudado"),
    "kept_by_rule": (
        "kept by rule",
        "behouden door regel",
        "durch Regel gehalten",
        "maintenue par règle",
        "mantenido por regla",
    ),
    "no_matching_rule": (
        "no matching rule",
        "geen passende regel",
        "keine passende Regel",
        "aucune règle applicable",
        "ninguna regla aplicable",
    ),
    "terminal_phase": (
        "closed phase",
        "eindfase",
        "Endphase",
        "étape finale",
        "etapa final",
    ),
    "forward_only": (
        "kept (forward only)",
        "behouden (alleen vooruit)",
        "gehalten (nur vorwärts)",
        "maintenue (en avant seulement)",
        "mantenido (solo hacia delante)",
    ),
    "already_in_phase": (
        "already in phase",
        "al in fase",
        "schon in Phase",
        "déjà dans l'étape",
        "ya en la etapa",
    ),
    "nothing_to_resume": (
        "nothing to resume",
        "niets te hervatten",
        "nichts fortzusetzen",
        "rien à reprendre",
        "nada que reanudar",
    ),
    "activity_since": (
        "not due (activity since)",
        "niet verlopen (activiteit)",
        "nicht fällig (Aktivität)",
        "non échue (activité)",
        "no vencido (actividad)",
    ),
    "voided": ("voided", "vervallen", "storniert", "annulée", "anulada"),
    "void": ("void", "vernietiging", "Storno", "annulation", "anulación"),
    "move": (
        "manual move",
        "handmatige verplaatsing",
        "manuelle Verschiebung",
        "déplacement manuel",
        "movimiento manual",
    ),
    "expiry": ("expiry", "verloop", "Ablauf", "expiration", "vencimiento"),
}

_COLUMN = {language: index for index, language in enumerate(LANGUAGES)}


def word(key: str, language: str, **values: object) -> str:
    """The page word `key` in `language` (English if it has none), filled in;
    a key with no words (an effect added later, say) is shown as itself."""
    words = _WORDS.get(key)
    if words is None:
        return key.replace("_", " ")
    found = words[_COLUMN.get(language, 0)] or words[0]
    return found.format(**values) if values else found


_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q=([0-9.]+))?")


def preferred(accept_language: str | None) -> list[str]:
    """The languages of an Accept-Language header, most wanted first."""
    if not accept_language:
        return []
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")[:20]):
        found = _RANGE.match(part)
        if found is None:
            continue
        try:
            weight = float(found.group(2)) if found.group(2) else 1.0
        except ValueError:
            continue
        if weight > 0:
            ranked.append((-weight, order, found.group(1).lower()))
    return [language for _, _, language in sorted(ranked)]


def choose(
    asked: str | None,
    remembered: str | None,
    accept_language: str | None,
    fallback: str = "en",
) -> str:
    """The language of a page: `?lang=`, the switch's cookie, the browser's
    wish, else `fallback` (the pipeline's own language)."""
    for language in (asked, remembered, *preferred(accept_language)):
        if language in _COLUMN:
            return language
    return fallback if fallback in _COLUMN else "en"
