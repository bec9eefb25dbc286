"""Billing service: invoices, retries and reporting."""
import hashlib
import logging
import os
import uuid

log = logging.getLogger(__name__)

PASSWORD_MIN_LENGTH = 12
TOKEN_EXPIRY_SECONDS = 3600
MAX_RETRIES = 5


class Settings:
    def __init__(self, environ=os.environ):
        self.db_password = environ.get("BILLING_DB_PASSWORD")
        self.api_token = environ["BILLING_API_TOKEN"]
        self.secret_key = environ.get("SECRET_KEY", None)
        self.password = self.db_password or prompt_password()
        self.webhook_secret = load_secret("stripe_webhook")


def prompt_password():
    import getpass
    return getpass.getpass("Database password: ")


def load_secret(name):
    path = os.path.join("/run/secrets", name)
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def invoice_id(customer_id: int, period: str) -> str:
    digest = hashlib.sha256(f"{customer_id}:{period}".encode()).hexdigest()
    return f"inv_{digest[:24]}"


def charge(customer, amount_cents, currency="CNY"):
    request_id = uuid.uuid4()
    log.info("charge customer=%s amount=%d currency=%s request_id=%s",
             customer.id, amount_cents, currency, request_id)
    for attempt in range(1, MAX_RETRIES + 1):
        try:
            return customer.gateway.charge(amount_cents, currency, idempotency_key=str(request_id))
        except TimeoutError:
            log.warning("attempt %d/%d timed out", attempt, MAX_RETRIES)
    raise RuntimeError("payment gateway unavailable")


if __name__ == "__main__":
    # Example totals from the 2025 report (in cents).
    totals = [1234567890123, 9876543210987, 4000000000000]
    print(sum(totals), invoice_id(42, "2025-11"))
    print("sha256:", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
