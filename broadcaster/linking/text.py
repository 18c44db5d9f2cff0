"""Turning what customers write into comparable text: normalisation, a small multilingual
lexicon, quoted error codes, and whether the text reports a failure at all."""

import re
import unicodedata
from enum import StrEnum
from functools import lru_cache

# Words customers use in other languages for the things our incidents are about, mapped to
# the English word our incidents use. Written for this project; extend it as reports show.
LEXICON = {
    # uploads, files
    "subir": "upload", "cargar": "upload", "carga": "upload", "archivo": "file", "fichier": "file",
    "télécharger": "upload", "téléverser": "upload", "envoyer": "send", "hochladen": "upload",
    "datei": "file", "enviar": "send", "carregar": "upload", "arquivo": "file", "uploaden": "upload",
    "bestand": "file", "caricare": "upload", "caricamento": "upload", "foto": "photo", "photo": "photo",
    "imagen": "image", "bild": "image", "immagine": "image",
    # groups, members, invitations
    "grupo": "group", "groupe": "group", "gruppe": "group", "groep": "group", "gruppo": "group",
    "miembros": "members", "membres": "members", "mitglieder": "members", "membros": "members",
    "leden": "members", "membri": "members", "invitación": "invitation", "invitaciones": "invitation",
    "invitation": "invitation", "einladung": "invitation", "einladungen": "invitation",
    "convite": "invitation", "uitnodiging": "invitation", "invito": "invitation", "inviti": "invitation",
    # auth
    "contraseña": "password", "mot": "password", "passe": "password", "passwort": "password",
    "senha": "password", "wachtwoord": "password", "iniciar": "login", "sesión": "login",
    "connexion": "login", "connecter": "login", "anmelden": "login", "anmeldung": "login",
    "entrar": "login", "inloggen": "login", "accedere": "login", "accesso": "login",
    "código": "code", "códigos": "code", "codes": "code", "code": "code", "codice": "code",
    # billing
    "factura": "invoice", "facture": "invoice", "rechnung": "invoice", "fatura": "invoice",
    "factuur": "invoice", "fattura": "invoice", "cobrado": "charged", "cobraron": "charged",
    "cobro": "charge", "débité": "charged", "prélevé": "charged", "abgebucht": "charged",
    "cobrança": "charge", "afgeschreven": "charged", "addebitato": "charged", "dos": "twice",
    "deux": "twice", "zweimal": "twice", "duas": "twice", "twee": "twice", "due": "twice",
    "veces": "times", "fois": "times", "mal": "times", "vezes": "times", "keer": "times",
    "volte": "times", "iva": "vat", "tva": "vat", "mwst": "vat", "btw": "vat",
    # messages, notifications, search, export
    "mensajes": "messages", "mensaje": "message", "messages": "messages", "nachrichten": "messages",
    "mensagens": "messages", "berichten": "messages", "messaggi": "messages",
    "notificaciones": "notifications", "notifications": "notifications",
    "benachrichtigungen": "notifications", "notificações": "notifications", "meldingen": "notifications",
    "notifiche": "notifications", "búsqueda": "search", "buscar": "search", "recherche": "search",
    "suche": "search", "busca": "search", "zoeken": "search", "ricerca": "search",
    "exportar": "export", "exporter": "export", "exportieren": "export", "exporteren": "export",
    "esportare": "export", "calendario": "calendar", "calendrier": "calendar", "kalender": "calendar",
    "pago": "payment", "paiement": "payment", "zahlung": "payment", "pagamento": "payment",
    "betaling": "payment", "correo": "email", "courriel": "email", "mail": "email",
    # English words customers use for the same thing
    "doubled": "twice", "duplicate": "twice", "duplicated": "twice", "double": "twice",
    "delayed": "delay", "late": "delay", "later": "delay", "slow": "delay",
    "invite": "invitation", "invites": "invitation", "invitations": "invitation", "invited": "invitation",
    "avatar": "photo", "picture": "photo", "pic": "photo", "log": "login", "sign": "login", "signin": "login",
    "kick": "remove", "removing": "remove", "removal": "remove",
    "uploading": "upload", "uploaded": "upload", "uploads": "upload", "import": "upload",
    # failure words
    "error": "error", "erreur": "error", "fehler": "error", "erro": "error", "fout": "error",
    "errore": "error", "falla": "fails", "falló": "fails", "échoue": "fails", "fonctionne": "works",
    "funktioniert": "works", "funciona": "works", "werkt": "works", "funziona": "works",
}

FAILURE_SIGNALS = frozenset(
    """error errors fail fails failed failing failure broken broke crash crashes crashed bug
    cannot can't cant couldn't won't doesn't doesnt didn't isn't not never stuck timeout timeouts
    wrong missing lost down unable problem problems issue issues blank empty rejected rejects
    corrupt corrupted damaged unexpected twice double duplicate duplicated delayed late slow nothing
    stopped stop stops vanish vanished disappeared declined expired expire expires still again
    reappear reappears nobody zero invalid forever dead doubled shifted useless impossible
    no ne nicht não niet non kein keine niemand niemandem nadie personne vide leer vazio retraso
    rechazada rechazado rifiutato rejeitado dañados dañado cierra stürzt échoué
    don't dont aren't haven't hasn't wasn't weren't anymore crash crashing incorrect unreadable
    none falsch falschen verkeerde verkeerd mauvais mauvaise equivocado errato""".split()
)
QUESTION_OPENERS = ("how ", "what ", "where ", "when ", "which ", "can i ", "could i ", "can you ", "could you ",
                    "is it possible", "is there ", "do you ", "does ", "should ", "may i ")
_CLAUSE = re.compile(r"[.!?;,]|\bbut\b")

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_NAMED_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
_NUMBERED_CODE = re.compile(
    r"\b(?:error|err|code|http|status)\W{0,3}([1-5]\d\d)\b|\b([1-5]\d\d)\W{0,3}(?:error|err)\b", re.IGNORECASE
)
_NUMBER = re.compile(r"[1-5]\d\d")  # what every numbered code has


def fold(text: str) -> str:
    """Lower case, typographic quotes made plain."""
    return text.lower().replace("’", "'").replace("‘", "'")


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def normalise(text: str) -> str:
    """Words in a canonical form: foreign words we know mapped to English, accents removed."""
    return " ".join(_canonical(word) for word in words(text))


@lru_cache(maxsize=100_000)
def _canonical(word: str) -> str:
    return _strip_accents(LEXICON.get(word, word))


def error_codes(text: str) -> frozenset[str]:
    """Codes and numbered errors a report quotes: ``ERR_UPLOAD_413``, ``error 500`` (as ``500``).

    Most reports quote none: a text without an underscore, or without three digits in a row,
    is not searched for what needs one (the searches cost more than the rest of reading it).
    """
    named = set(_NAMED_CODE.findall(text)) if "_" in text else set()
    numbered = {first or second for first, second in _NUMBERED_CODE.findall(text)} if _NUMBER.search(text) else set()
    return frozenset(named | numbered)


class Tone(StrEnum):
    FAILURE = "failure"  # says something is broken
    QUESTION = "question"  # asks how to do something, reports nothing broken
    NEUTRAL = "neutral"  # neither: a request, praise, a description without failure words


def tone(text: str) -> Tone:
    """Whether a report says something is broken; how-to questions share our words but do not."""
    folded = fold(text)
    said = words(folded)
    tokens = {LEXICON.get(w, w) for w in said} | set(said)
    if tokens & FAILURE_SIGNALS or error_codes(text):
        return Tone.FAILURE
    if "?" in folded or any(clause.strip().startswith(QUESTION_OPENERS) for clause in _CLAUSE.split(folded)):
        return Tone.QUESTION
    return Tone.NEUTRAL


def reports_a_failure(text: str) -> bool:
    return tone(text) is Tone.FAILURE


_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{6,}|\b\w+(?:Error|Exception|Fault)\b|\b\w+(?:::\w+)+")
_SIGNATURE_HINTS = ("0x", "Error", "Exception", "Fault", "::")
_VERSION = re.compile(r"\b\d+\.\d+(?:\.\d+)*\b")


def signatures(text: str) -> frozenset[str]:
    """What identifies one fault: quoted codes, exception names, ``Module::Name``, long hex codes.

    Each kind contains one of ``_SIGNATURE_HINTS``: a text with none is not searched.
    """
    quoted = _SIGNATURE.findall(text) if any(hint in text for hint in _SIGNATURE_HINTS) else []
    return frozenset(m.lower() for m in quoted) | error_codes(text)


def versions(text: str) -> frozenset[str]:
    """Version numbers the text names: ``4.3.0``, ``2023.10.2``."""
    return frozenset(_VERSION.findall(text))
