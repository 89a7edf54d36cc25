"""Every table, imported here so `SQLModel.metadata` is complete for Alembic and tests."""

from sqlalchemy import DDL, event
from sqlmodel import SQLModel

from models.charges import OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine, InvoiceSeries
from models.psa import PsaCompany, PsaRefresh
from models.system import AuditLog, BillingSettings, Notification
from models.usage import LicenceCount, UsageRecord

metadata = SQLModel.metadata

# The trigram indexes need pg_trgm (PostgreSQL contrib); migrations create it too.
event.listen(
    metadata, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql")
)

__all__ = [
    "AuditLog",
    "BillingSettings",
    "EndCustomer",
    "Invoice",
    "InvoiceLine",
    "InvoiceSeries",
    "LicenceCount",
    "Notification",
    "OnceOffItem",
    "PsaCompany",
    "PsaRefresh",
    "RecurringCharge",
    "Service",
    "UsageRecord",
    "metadata",
]
