"""PSA integrations: one client per vendor behind `integrations.base.PsaClient`.

Build one with `integrations.config.make_client(load_psa_settings())`; everything else (the cache
refresh in `core.psa_cache`, the resync in `core.psa_sync`) only sees `PsaClient` and `Company`.

Field mapping (the four synced fields of the partner portal, per vendor):

==========================  ======================  ======================  ==========================
rebill-bot (Company)        Autotask (Companies)    ConnectWise (company)   HaloPSA (Client + main Site)
==========================  ======================  ======================  ==========================
Integration Reference: ref  id (str; 0 = the MSP,   id (str)                Client.id (str; 21.0 → "21")
                            excluded)
Company Name: name          companyName             name                    Client.name
Contact Number: phone       phone                   phoneNumber             Site.phonenumber
Address: address_line1      address1                addressLine1            Site.addressline1
Address: address_line2      address2                addressLine2            Site.addressline2
Address: city               city                    city                    Site.city
Address: state              state                   state                   Site.county (or state)
Address: postcode           postalCode              zip                     Site.postcode
Address: country            countryID → Countries   country.name            Site.country
                            displayName (or name)
active                      isActive                not deletedFlag and     not Client.inactive
                                                    status.name lacks
                                                    "inactive"
==========================  ======================  ======================  ==========================

"Main site" for HaloPSA: the active site with `ismainsite` true, else the first active site, else an
inactive one. Empty strings from any PSA are stored as None. Values longer than our columns are cut
to fit when written (see `core.psa_cache` and `core.psa_sync`).
"""

from integrations.base import Company, PsaAuthError, PsaClient, PsaConfigError, PsaError, PsaUnavailable

__all__ = ["Company", "PsaAuthError", "PsaClient", "PsaConfigError", "PsaError", "PsaUnavailable"]
