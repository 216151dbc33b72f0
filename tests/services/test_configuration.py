"""Settings from the environment (DESIGN §5): secrets from files, and clear errors
naming the setting."""

import pytest

from audit_service.settings import Settings as AuditSettings
from items_service.settings import Settings as ItemsSettings
from service_common.config import ConfigError, bind_address

VALID = {
    "DATABASE_URL": "postgresql://items_service:pw@db:5432/itemsdb",
    "AUDIT_SERVICE_URL": "http://audit-service:8081/",
    "AUDIT_TOKEN": "a-token-of-sixteen+",
}


def test_settings_come_from_the_environment():
    settings = ItemsSettings.from_env(VALID)

    assert settings.database_url == VALID["DATABASE_URL"]
    assert settings.audit_service_url == "http://audit-service:8081"
    assert settings.audit_token == VALID["AUDIT_TOKEN"]
    assert settings.trusted_proxy_count == 0, "the TCP peer is the client unless told otherwise"


def test_secrets_can_be_read_from_files(tmp_path):
    (tmp_path / "url").write_text(VALID["DATABASE_URL"] + "\n")
    (tmp_path / "token").write_text(VALID["AUDIT_TOKEN"] + "\n")
    env = {
        "DATABASE_URL_FILE": str(tmp_path / "url"),
        "AUDIT_TOKEN_FILE": str(tmp_path / "token"),
    }

    settings = AuditSettings.from_env(env)

    assert settings.database_url == VALID["DATABASE_URL"]
    assert settings.audit_token == VALID["AUDIT_TOKEN"], "the trailing newline of a file is dropped"


def test_libpq_variables_can_stand_in_for_database_url():
    env = {"PGHOST": "db", "PGDATABASE": "itemsdb", "AUDIT_TOKEN": VALID["AUDIT_TOKEN"]}

    assert AuditSettings.from_env(env).database_url == ""


@pytest.mark.parametrize(
    "change, message",
    [
        ({"DATABASE_URL": None}, "DATABASE_URL is required"),
        ({"DATABASE_URL": "host=db port=notaport x"}, "DATABASE_URL is not a valid"),
        ({"AUDIT_TOKEN": None}, "AUDIT_TOKEN is required"),
        ({"AUDIT_TOKEN": "short"}, "AUDIT_TOKEN must be at least 16"),
        ({"AUDIT_SERVICE_URL": None}, "AUDIT_SERVICE_URL is required"),
        ({"AUDIT_SERVICE_URL": "audit-service:8081"}, "AUDIT_SERVICE_URL must be an http"),
        ({"TRUSTED_PROXY_COUNT": "one"}, "TRUSTED_PROXY_COUNT must be an integer"),
        ({"TRUSTED_PROXY_COUNT": "6"}, "TRUSTED_PROXY_COUNT must be between 0 and 5"),
        ({"AUDIT_OUTBOX_LIMIT": "0"}, "AUDIT_OUTBOX_LIMIT must be between 1 and"),
        ({"AUDIT_OUTBOX_LIMIT": "lots"}, "AUDIT_OUTBOX_LIMIT must be an integer"),
        (
            {"AUDIT_TOKEN_FILE": "/nonexistent/token"},
            "set AUDIT_TOKEN or AUDIT_TOKEN_FILE, not both",
        ),
        (
            {"AUDIT_TOKEN": None, "AUDIT_TOKEN_FILE": "/nonexistent/token"},
            "AUDIT_TOKEN_FILE: cannot read",
        ),
    ],
)
def test_a_missing_or_invalid_setting_is_named(change, message):
    env = {**VALID, **change}
    env = {key: value for key, value in env.items() if value is not None}

    with pytest.raises(ConfigError, match=message) as raised:
        ItemsSettings.from_env(env)

    assert "pw@" not in str(raised.value), "a message never shows a secret"


def test_an_invalid_database_url_is_reported_without_its_password():
    with pytest.raises(ConfigError) as raised:
        ItemsSettings.from_env({**VALID, "DATABASE_URL": "postgresql://u:s3cret@db:5432/x?bogus=1"})

    assert "s3cret" not in str(raised.value)


def test_the_number_of_trusted_proxies_is_a_setting():
    assert ItemsSettings.from_env({**VALID, "TRUSTED_PROXY_COUNT": "1"}).trusted_proxy_count == 1


def test_the_outbox_is_bounded_unless_told_another_bound():
    assert ItemsSettings.from_env(VALID).audit_outbox_limit == 100_000
    limited = ItemsSettings.from_env({**VALID, "AUDIT_OUTBOX_LIMIT": "500"})
    assert limited.audit_outbox_limit == 500


def test_the_database_volume_size_is_known_only_when_given():
    assert AuditSettings.from_env(VALID).database_volume_bytes is None
    given = AuditSettings.from_env({**VALID, "DATABASE_VOLUME_BYTES": "1073741824"})
    assert given.database_volume_bytes == 1024**3
    with pytest.raises(ConfigError, match="DATABASE_VOLUME_BYTES must be an integer"):
        AuditSettings.from_env({**VALID, "DATABASE_VOLUME_BYTES": "1Gi"})


def test_the_retention_period_is_known_only_when_given():
    assert AuditSettings.from_env(VALID).audit_retention_days is None
    assert AuditSettings.from_env({**VALID, "AUDIT_RETENTION_DAYS": "7"}).audit_retention_days == 7
    with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS must be between 0 and 3650"):
        AuditSettings.from_env({**VALID, "AUDIT_RETENTION_DAYS": "5000"})


@pytest.mark.parametrize(
    "env, address",
    [
        ({}, "127.0.0.1"),
        ({"BIND_ADDRESS": ""}, "127.0.0.1"),
        ({"BIND_ADDRESS": "0.0.0.0"}, "0.0.0.0"),
        ({"BIND_ADDRESS": "::"}, "::"),
        ({"BIND_ADDRESS": "0:0::1"}, "::1"),
    ],
)
def test_services_listen_on_loopback_unless_told_otherwise(env, address):
    assert bind_address(env) == address


@pytest.mark.parametrize("value", ["localhost", "0.0.0.0:8080", "999.1.1.1"])
def test_a_bind_address_must_be_an_ip_address(value):
    with pytest.raises(ConfigError, match="BIND_ADDRESS must be an IPv4 or IPv6 address"):
        bind_address({"BIND_ADDRESS": value})
