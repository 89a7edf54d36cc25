"""PSA integrations: one client per vendor behind `integrations.base.PsaClient`.

Build one with `integrations.config.make_client(load_psa_settings())`; everything else (the cache
refresh in `core.psa_cache`, the resync in `core.psa_sync`) only sees `PsaClient` and `Company`.

Which PSA field fills which of ours, and which companies are offered for import, is in the
README ("What is imported from your PSA"), the one place users and developers read it; each
client's module docstring names the vendor document it was built from, and
`tests/integrations/samples/` holds a documented response per vendor that the tests run through
each client. Empty strings from any PSA are stored as None; values longer than our columns are cut
to fit when written (see `core.psa_cache` and `core.psa_sync`), and a resync never overwrites a
value of ours with an empty one.
"""

from integrations.base import Company, PsaAuthError, PsaClient, PsaConfigError, PsaError, PsaUnavailable

__all__ = ["Company", "PsaAuthError", "PsaClient", "PsaConfigError", "PsaError", "PsaUnavailable"]
