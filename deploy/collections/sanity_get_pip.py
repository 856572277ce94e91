"""Offline stand-in for the get-pip bootstrap script ansible-test downloads for its sanity virtualenvs.

ansible-test (requirements.py: bootstrap) runs ~/.ansible/test/cache/get_pip_<version>.py in each new
virtualenv to install pip, and downloads it from ci-files.testing.ansible.com when it is missing; that
host is not reachable from this project's machines. `make sanity` copies this file there under that name
(in a throwaway HOME). It installs pip from the wheel the interpreter bundles (ensurepip: no download),
then lets that pip install what ansible-test asked for (the pinned pip, setuptools, wheel) from PyPI.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# Debian's CA bundle, for a pip older than the one that reads the system store.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

ensurepip.bootstrap(upgrade=True)
# get-pip's own options; pip install does not know them (ansible-test adds them when it wants neither).
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
cert = ["--cert", CA_BUNDLE] if os.path.exists(CA_BUNDLE) and "PIP_CERT" not in os.environ else []
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *cert, *args]))  # noqa: S603 - ansible-test's own arguments
