"""Reading the lockfile: `featrix output` tells an address from an address with a field."""

from __future__ import annotations

import subprocess
import sys


def test_an_address_is_known_in_a_fresh_process_that_imported_no_model() -> None:
    """`featrix output endpoint.species_api` asks operations.is_address first, before anything loads model/
    (which registers the kinds): a fresh interpreter must still read it as an address, not as ADDRESS.FIELD."""
    code = (
        "from featrix_iac import operations\n"
        "assert operations.is_address('endpoint.species_api')\n"
        "assert not operations.is_address('endpoint.species_api.api_key')\n"
        "assert not operations.is_address('nope.x')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
