"""Every table, imported here so `SQLModel.metadata` is complete for Alembic and tests."""

from sqlalchemy import DDL, event
from sqlmodel import SQLModel

from models.charges import ChargeVersion, OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine, InvoiceSeries
from models.month_close import MonthClose
from models.psa import PsaCompany, PsaRefresh
from models.system import AuditLog, BillingSettings, Notification
from models.usage import LicenceCount, UsageRecord
from models.xero import XeroCall, XeroConnection, XeroContactLink, XeroDocument, XeroSettings

metadata = SQLModel.metadata

# The trigram indexes need pg_trgm (PostgreSQL contrib); migrations create it too.
event.listen(
    metadata, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql")
)

__all__ = [
    "AuditLog",
    "BillingSettings",
    "ChargeVersion",
    "EndCustomer",
    "Invoice",
    "InvoiceLine",
    "InvoiceSeries",
    "LicenceCount",
    "MonthClose",
    "Notification",
    "OnceOffItem",
    "PsaCompany",
    "PsaRefresh",
    "RecurringCharge",
    "Service",
    "UsageRecord",
    "XeroCall",
    "XeroConnection",
    "XeroContactLink",
    "XeroDocument",
    "XeroSettings",
    "metadata",
]
