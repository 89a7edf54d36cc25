"""A stand-in browser for `rebill-bot xero connect` tests: follow Xero's consent redirect to our callback."""

import sys

import httpx

httpx.get(sys.argv[1], follow_redirects=True, timeout=20)
