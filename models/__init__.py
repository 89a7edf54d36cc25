"""Every table, imported here so `SQLModel.metadata` is complete for Alembic and tests."""

from sqlmodel import SQLModel

from models.charges import OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine, InvoiceSeries
from models.psa import PsaCompany, PsaRefresh
from models.system import AuditLog, BillingSettings, Notification

metadata = SQLModel.metadata

__all__ = [
    "AuditLog",
    "BillingSettings",
    "EndCustomer",
    "Invoice",
    "InvoiceLine",
    "InvoiceSeries",
    "Notification",
    "OnceOffItem",
    "PsaCompany",
    "PsaRefresh",
    "RecurringCharge",
    "Service",
    "metadata",
]
