"""What became of a message after it left: an SMS provider's delivery receipt moves it to
delivered or failed; none within SMS_RECEIPT_HOURS and it is "unknown", never "delivered".
And, for the coordination, why a message failed, in French with the provider's own words."""

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.notifications import repository
from app.notifications.models import Delivery, MessageStatus, OutboxMessage
from app.notifications.sms_providers import NAMES, Receipt

logger = logging.getLogger(__name__)


def record_receipt(session: Session, provider: str, receipt: Receipt, now: datetime) -> bool:
    """Applies a verified receipt to its message (in the caller's transaction). A step on the
    way ("sent", "queued") changes nothing; a final state replaces the previous one, "unknown"
    included (a late receipt is still the truth). False: no message of ours has this id."""
    message = repository.by_provider_id(session, provider, receipt.message_id)
    if message is None:
        logger.info("sms_receipt_for_no_message", extra={"provider": provider})
        return False
    if receipt.state is None:
        return True
    message.delivery = receipt.state
    message.delivery_reason = receipt.reason[:200] if receipt.state == Delivery.FAILED and receipt.reason else None
    message.delivery_at = now
    logger.info("sms_receipt", extra={"message_id": message.id, "provider": provider, "delivery": receipt.state})
    return True


def mark_unknown(session: Session, now: datetime, wait: timedelta) -> int:
    marked = repository.mark_unknown(session, now - wait, now)
    if marked:
        logger.info("sms_receipts_missing", extra={"count": marked})
    return marked


# Provider codes a coordinator can act on, in French. Anything else: the provider's own text.
_CODES = {
    # Twilio (its error dictionary: 21xxx refused at sending, 30xxx the delivery).
    "21211": "numéro invalide",
    "21408": "pays non autorisé sur le compte du fournisseur",
    "21610": "le destinataire a répondu STOP à nos SMS",
    "21612": "numéro injoignable depuis cet expéditeur",
    "21614": "ce numéro ne reçoit pas de SMS",
    "20003": "identifiants du compte refusés par le fournisseur",
    "20429": "trop de SMS d'un coup : nouvel essai plus tard",
    "30003": "téléphone injoignable (éteint ou hors réseau)",
    "30004": "SMS bloqué par le destinataire",
    "30005": "numéro inconnu de l'opérateur",
    "30006": "numéro fixe, ou opérateur injoignable",
    "30007": "SMS filtré par l'opérateur",
    "30008": "erreur inconnue de l'opérateur",
    # Brevo (its error codes, and its receipts' msg_status).
    "invalid_parameter": "numéro ou expéditeur refusé",
    "missing_parameter": "demande incomplète",
    "not_enough_credits": "crédit SMS épuisé chez le fournisseur",
    "unauthorized": "clé d'API refusée par le fournisseur",
    "permission_denied": "compte du fournisseur sans droit d'envoyer des SMS",
    "hard_bounce": "numéro invalide ou qui ne reçoit pas de SMS",
    "soft_bounce": "téléphone injoignable (éteint, hors réseau ou saturé)",
    "rejected": "SMS refusé par le fournisseur",
    "429": "trop de SMS d'un coup : nouvel essai plus tard",
}


def explain(reason: str | None) -> str:
    """A stored reason ("twilio 21211 The 'To' number … is not valid", "brevo hard_bounce",
    "smtp 550") as the request page says it: French first, then the provider's words."""
    if not reason:
        return "raison inconnue"
    provider, _, rest = reason.partition(" ")
    if provider in NAMES:
        code, _, text = rest.partition(" ")
        if code in _CODES:
            french = _CODES[code]
        elif code.endswith(("Error", "Timeout", "Exception")):  # httpx's: the network
            french = "fournisseur injoignable"
        elif code.isdigit() and int(code) >= 500:
            french = "panne passagère du fournisseur"
        else:
            french = "refusé par le fournisseur"
        original = f"{code} {text}".strip()
        return f"{french} ({NAMES[provider]} : {original})"
    if reason.startswith(("smtp", "recipient refused")):
        return f"refusé par le serveur de messagerie ({reason})"
    return f"envoi impossible ({reason})"


def state_label(message: OutboxMessage) -> str:
    """One message's state on the request page, in French: handed over, then its receipt."""
    if message.status == MessageStatus.FAILED:
        return f"échec : {explain(message.last_error)}"
    if message.status != MessageStatus.SENT:
        waiting = {MessageStatus.PENDING: "en attente", MessageStatus.SENDING: "en cours d'envoi"}
        label = waiting.get(MessageStatus(message.status), message.status)
        if message.last_error:  # a transient failure: it will be tried again
            label += f" (nouvel essai : {explain(message.last_error)})"
        return label
    if message.delivery == Delivery.DELIVERED:
        return "remis au destinataire"
    if message.delivery == Delivery.FAILED:
        return f"non remis : {explain(message.delivery_reason)}"
    if message.delivery == Delivery.UNKNOWN:
        return "remise inconnue (aucun accusé de réception)"
    if message.delivery == Delivery.AWAITING:
        return "envoyé, accusé de réception attendu"
    return "envoyé"
