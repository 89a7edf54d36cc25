"""Which Xero contact an end customer is: stored link, ContactNumber, exact name, else created.

Two Xero contacts that match equally (same name, or same ContactNumber) are never guessed between:
the customer's documents wait for a person ("needs a person").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.clock import Clock
from core.db import session_scope
from core.xero_batches import batch_key, chunks, in_parallel
from integrations.xero import BATCH_SIZE, XeroClient, item_errors
from integrations.xero_auth import XeroError
from models.customers import EndCustomer
from models.xero import XeroContactLink


@dataclass(frozen=True)
class ContactProblem:
    message: str
    needs_person: bool


def contact_number(customer: EndCustomer) -> str:
    """What we put in Xero's ContactNumber (an external reference) for a contact we create."""
    return f"rebill-{customer.id}"


def resolve_contacts(
    engine: Engine, client: XeroClient, customer_ids: set[int], *, clock: Clock
) -> dict[int, str | ContactProblem]:
    """ContactID per customer: stored link → ContactNumber → exact name → created (in batches)."""
    with session_scope(engine) as db:
        links = {
            link.customer_id: link.contact_id
            for link in db.execute(
                select(XeroContactLink).where(col(XeroContactLink.customer_id).in_(customer_ids))
            ).scalars()
        }
        customers = {
            c.id: c
            for c in db.execute(
                select(EndCustomer).where(col(EndCustomer.id).in_(customer_ids - set(links)))
            ).scalars()
            if c.id is not None
        }
    result: dict[int, str | ContactProblem] = dict(links)
    if not customers:
        return result
    by_number: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for contact in client.iter_contacts():
        if contact.get("ContactNumber"):
            by_number.setdefault(contact["ContactNumber"], []).append(contact["ContactID"])
        by_name.setdefault((contact.get("Name") or "").strip().casefold(), []).append(contact["ContactID"])
    found: dict[int, tuple[str, str]] = {}
    create: list[EndCustomer] = []
    for cid, customer in customers.items():
        numbers = [contact_number(customer), *([customer.psa_ref] if customer.psa_ref else [])]
        by_num = next((by_number[n] for n in numbers if n in by_number), [])
        named = by_name.get(customer.company_name.strip().casefold(), [])
        if len(by_num) == 1:
            found[cid] = (by_num[0], "number")
        elif len(by_num) > 1:
            result[cid] = ContactProblem(
                f"{len(by_num)} Xero contacts have ContactNumber {numbers[0]}; keep one", True
            )
        elif len(named) == 1:
            found[cid] = (named[0], "name")
        elif len(named) > 1:
            result[cid] = ContactProblem(
                f"{len(named)} Xero contacts are named {customer.company_name!r}; rename or archive all but one in Xero",
                True,
            )
        else:
            create.append(customer)

    def send(batch: list[EndCustomer]) -> list[dict[str, Any]]:
        key = batch_key("contact", [(c.id or 0, c.company_name) for c in batch])
        return client.save("Contacts", [_contact_payload(c) for c in batch], key=key)

    for batch, outcome in in_parallel(send, list(chunks(create, BATCH_SIZE))):
        for i, customer in enumerate(batch):
            assert customer.id is not None
            if isinstance(outcome, XeroError):
                result[customer.id] = ContactProblem(outcome.user_message, False)
                continue
            answer = outcome[i] if i < len(outcome) else {"HasErrors": True}
            problem = item_errors(answer)
            if problem:
                result[customer.id] = ContactProblem(problem, False)
            else:
                found[customer.id] = (answer["ContactID"], "created")
    with session_scope(engine) as db:
        for cid, (contact_id, how) in found.items():
            db.merge(
                XeroContactLink(
                    customer_id=cid, contact_id=contact_id, matched_by=how, updated_at=clock.now()
                )
            )
            result[cid] = contact_id
    return result


def _contact_payload(customer: EndCustomer) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "Name": customer.company_name,
        "ContactNumber": contact_number(customer),
        "IsCustomer": True,
    }
    if customer.email:
        payload["EmailAddress"] = customer.email
    if customer.contact_number:
        payload["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": customer.contact_number}]
    if customer.address_line1 or customer.city:
        address = {
            "AddressType": "POBOX",
            "AddressLine1": customer.address_line1,
            "AddressLine2": customer.address_line2,
            "City": customer.city,
            "Region": customer.state,
            "PostalCode": customer.postcode,
            "Country": customer.country,
        }
        payload["Addresses"] = [{k: v for k, v in address.items() if v}]
    return payload
