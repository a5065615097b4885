"""Reading a protocol or a manifest must not import torch: the web service validates both without it."""

from __future__ import annotations

import subprocess
import sys


def test_protocol_and_manifest_validation_import_no_ml_stack():
    code = ("import sys, harness.protocol, harness.submission, harness.estimate;"
            "harness.protocol.get_protocol('production').digest();"
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
