"""The offline render of a stack file whose secret settings are encrypted, as
`pulumi config set --secret` writes them (`secure: v1:...`): it renders, with
placeholders in their place, as it does for the generated secrets."""

import base64
import json
import subprocess
import sys

import yaml

from infra.program import REPO_ROOT
from tests.infra.conftest import PRODUCTION_LIKE_CONFIG

# What the CLI wrote for `pulumi config set --secret` with some passphrase: the render
# has no passphrase and never reads it.
CIPHERTEXT = {"secure": "v1:Fq4A0b3pKn6vC7lP:2bK9c3Q0n1oRzJxkTfLw3rQ1xGQ="}


def test_a_stack_file_with_encrypted_secret_settings_renders_with_placeholders(tmp_path):
    config = {
        **PRODUCTION_LIKE_CONFIG,
        "items-audit:registry_password": CIPHERTEXT,
        "items-audit:database_url": CIPHERTEXT,
    }
    stack_file = tmp_path / "Pulumi.production.yaml"
    stack_file.write_text(
        yaml.safe_dump({"encryptionsalt": "v1:c2FsdA==:v1:AAAA:BBBB", "config": config})
    )

    result = subprocess.run(
        [sys.executable, "-m", "infra.render", str(tmp_path / "out"), "--stack-file", stack_file],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    pull_secret = yaml.safe_load(
        (tmp_path / "out" / "secret-registry-credentials.yaml").read_text()
    )
    auths = json.loads(pull_secret["stringData"][".dockerconfigjson"])["auths"]
    [auth] = [entry["auth"] for entry in auths.values()]
    assert base64.b64decode(auth).decode() == "deployer:mock-encrypted-registry_password"
    rendered = "\n".join(path.read_text() for path in (tmp_path / "out").glob("*.yaml"))
    assert "mock-encrypted-database" in rendered
    assert CIPHERTEXT["secure"] not in rendered
