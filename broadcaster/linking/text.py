"""Turning what customers write into comparable text: normalisation, a small multilingual
lexicon, quoted error codes, and whether the text reports a failure at all."""

import re
import unicodedata

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
    # failure words
    "error": "error", "erreur": "error", "fehler": "error", "erro": "error", "fout": "error",
    "errore": "error", "falla": "fails", "falló": "fails", "échoue": "fails", "fonctionne": "works",
    "funktioniert": "works", "funciona": "works", "werkt": "works", "funziona": "works",
}

FAILURE_SIGNALS = frozenset(
    """error errors fail fails failed failing failure broken broke crash crashes crashed bug
    cannot can't cant couldn't won't doesn't doesnt didn't isn't not never stuck timeout timeouts
    wrong missing lost down unable problem problems issue issues blank empty rejected rejects
    corrupt corrupted unexpected twice double duplicate delayed late slow nothing
    no ne nicht não niet non kein keine""".split()
)
QUESTION_OPENERS = ("how do i", "how can i", "how to", "is it possible", "can i ", "could you tell me how",
                    "where do i", "where can i", "what is the", "do you support", "is there a way")

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_NAMED_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
_NUMBERED_CODE = re.compile(
    r"\b(?:error|err|code|http|status)\W{0,3}([1-5]\d\d)\b|\b([1-5]\d\d)\W{0,3}(?:error|err)\b", re.IGNORECASE
)


def fold(text: str) -> str:
    """Lower case, typographic quotes made plain."""
    return text.lower().replace("’", "'").replace("‘", "'")


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def normalise(text: str) -> str:
    """Words in a canonical form: foreign words we know mapped to English, accents removed."""
    return " ".join(_strip_accents(LEXICON.get(word, word)) for word in words(text))


def error_codes(text: str) -> frozenset[str]:
    """Codes and numbered errors a report quotes: ``ERR_UPLOAD_413``, ``error 500`` (as ``500``)."""
    named = set(_NAMED_CODE.findall(text))
    numbered = {first or second for first, second in _NUMBERED_CODE.findall(text)}
    return frozenset(named | numbered)


def reports_a_failure(text: str) -> bool:
    """False for how-to questions and praise: text that shares our words but reports nothing broken."""
    folded = fold(text)
    tokens = set(words(folded)) | {LEXICON.get(w, w) for w in words(folded)}
    if tokens & FAILURE_SIGNALS:
        return not (folded.lstrip().startswith(QUESTION_OPENERS) and "error" not in tokens)
    return False
