"""Nothing forgeable by default: keys kept as digests and compared in constant time, and an
API that refuses to start with development secrets outside development mode."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from services.api.auth import ApiKeys
from services.settings import DEV_API_KEY, DEV_LINK_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a" * 40
KEY = "k" * 24


def test_keys_may_be_configured_as_sha256_digests() -> None:
    digest = hashlib.sha256(b"bank-key").hexdigest()
    keys = ApiKeys.of(Settings(api_keys=f"sha256:{digest}:bank, shop-key:shop"))

    assert keys.programme_of("bank-key") == "bank"
    assert keys.programme_of("shop-key") == "shop"
    assert keys.programme_of(digest) is None
    assert keys.programme_of("") is None


def test_the_development_key_exists_only_in_development_mode() -> None:
    assert ApiKeys.of(Settings(dev_mode=True)).programme_of(DEV_API_KEY) == "default"
    assert ApiKeys.of(Settings()).programme_of(DEV_API_KEY) is None


MASTER_KEY = "9f" * 32


def test_production_settings_of_its_own_are_secure() -> None:
    assert Settings(link_secret=SECRET, api_keys=f"{KEY}:bank",
                    master_key=MASTER_KEY).insecure() == []
    digest = hashlib.sha256(b"short").hexdigest()
    assert Settings(link_secret=SECRET, api_keys=f"sha256:{digest}:bank",
                    master_key=MASTER_KEY).insecure() == []


def test_the_development_master_key_is_refused_and_a_key_must_be_32_bytes() -> None:
    problems = Settings(link_secret=SECRET, api_keys=f"{KEY}:bank").insecure()
    assert problems == ["LOYALTY_MASTER_KEY is the development key: set a key of your own "
                        "(`openssl rand -hex 32`)"]
    with pytest.raises(ValueError, match="64 hex digits"):
        Settings(master_key="00" * 16)


@pytest.mark.parametrize(("settings", "complaint"), [
    ({"api_keys": "k:bank"}, "LOYALTY_LINK_SECRET is the development secret"),
    ({"api_keys": "k:bank", "link_secret": "short"}, "at least 32 characters"),
    ({"link_secret": SECRET}, "LOYALTY_API_KEYS is empty"),
    ({"link_secret": SECRET, "api_keys": f"{DEV_API_KEY}:default"}, "the development key"),
    ({"link_secret": SECRET, "api_keys": "k:Y/customer/Z"}, "not served"),
    ({"link_secret": SECRET, "api_keys": "k:bank", "programmes": "shop"}, "not served"),
    ({"link_secret": SECRET, "api_keys": "sha256:abcd:bank"}, "not 64 hex digits"),
    ({"link_secret": SECRET, "api_keys": "sha256:xyz:bank"}, "not hex"),
    ({"link_secret": SECRET, "api_keys": f"{KEY}:bank, {'k' * 23}:shop"},
     "LOYALTY_API_KEYS has a key of programme 'shop' shorter than 24 characters"),
])
def test_forgeable_or_unusable_settings_are_named(settings: dict[str, str],
                                                  complaint: str) -> None:
    problems = Settings(**settings).insecure()  # type: ignore[arg-type]
    assert any(complaint in problem for problem in problems), problems


def test_development_mode_accepts_the_development_secrets() -> None:
    assert Settings(dev_mode=True).insecure() == []
    assert Settings(dev_mode=True, link_secret=DEV_LINK_SECRET).insecure() == []
    assert Settings(dev_mode=True, api_keys=f"{DEV_API_KEY}:default,k:bank").insecure() == []


def test_a_weak_key_is_named_by_its_programme_never_by_itself() -> None:
    problems = Settings(link_secret=SECRET, api_keys="short-key:bank",
                        master_key=MASTER_KEY).insecure()
    assert len(problems) == 1 and "'bank'" in problems[0]
    assert "short-key" not in problems[0]


def test_the_api_refuses_to_start_with_a_weak_key_outside_development_mode() -> None:
    env = {"PATH": "/usr/bin:/bin", "LOYALTY_HTTP_PORT": "1", "LOYALTY_LOG_JSON": "false",
           "LOYALTY_LINK_SECRET": SECRET, "LOYALTY_API_KEYS": "bank-key-1:bank",
           "LOYALTY_MASTER_KEY": MASTER_KEY}
    started = subprocess.run([sys.executable, "-m", "services.cli", "api"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)

    assert started.returncode == 2
    assert "shorter than 24 characters" in started.stderr
    assert "bank-key-1" not in started.stderr


def test_the_api_refuses_to_start_with_development_secrets_outside_development_mode() -> None:
    env = {"PATH": "/usr/bin:/bin", "LOYALTY_HTTP_PORT": "1", "LOYALTY_LOG_JSON": "false"}
    started = subprocess.run([sys.executable, "-m", "services.cli", "api"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)

    assert started.returncode == 2
    assert "refusing to start outside development mode" in started.stderr
    assert "LOYALTY_LINK_SECRET" in started.stderr and "LOYALTY_API_KEYS" in started.stderr
