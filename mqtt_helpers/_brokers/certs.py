"""Certificates made on the fly for the brokers' TLS listeners.

A lesson on TLS needs a CA the client trusts and a server certificate for
127.0.0.1; ``trustme`` makes both in memory, and we write them to a private
temporary folder that is deleted when the broker stops.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Certificates:
    """PEM files for one broker: the CA for clients, the cert and key for the server."""

    folder: Path
    ca_file: Path
    cert_file: Path
    key_file: Path

    def cleanup(self) -> None:
        """Delete the folder holding the files."""
        shutil.rmtree(self.folder, ignore_errors=True)


def make_certificates(folder: Path | None = None) -> Certificates:
    """Make a CA and a server certificate valid for 127.0.0.1 and localhost."""
    import trustme

    where = folder or Path(tempfile.mkdtemp(prefix="mqtt-study-tls-"))
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    certs = Certificates(where, where / "ca.pem", where / "server.pem", where / "server.key")
    ca.cert_pem.write_to_path(str(certs.ca_file))
    server.cert_chain_pems[0].write_to_path(str(certs.cert_file))
    server.private_key_pem.write_to_path(str(certs.key_file))
    return certs
