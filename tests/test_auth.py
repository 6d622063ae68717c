"""Local users (scrypt hashes in a 0600 file), the sign-in throttle, OIDC claims -> access,
the demo user of the first run, and the `gyosei user` commands."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from app.auth import (
    AuthError,
    LoginThrottle,
    UserStore,
    demo_password_file,
    ensure_demo_user,
    hash_password,
    user_from_claims,
    verify_password,
)
from app.cli import main
from retrieval.settings import AuthSettings
from retrieval.types import Access


def test_hash_is_salted_scrypt_and_verifies():
    a, b = hash_password("正しいパスワード123"), hash_password("正しいパスワード123")
    assert a.startswith("scrypt$16384$8$1$") and a != b  # a fresh salt each time
    assert verify_password("正しいパスワード123", a) and verify_password("正しいパスワード123", b)
    assert not verify_password("正しいパスワード124", a)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")


def test_store_adds_authenticates_and_keeps_the_file_private(tmp_path):
    store = UserStore(tmp_path / "var" / "users.json")
    user = store.add("tanaka", "hunter2hunter2", clearance=2, groups=["soumu"], roles=["admin"])
    assert user.access == Access(clearance=2, groups=["all", "soumu"])
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    raw = store.path.read_text(encoding="utf-8")
    assert "hunter2" not in raw and json.loads(raw)["users"]["tanaka"]["clearance"] == 2
    signed = store.authenticate("tanaka", "hunter2hunter2")
    assert signed is not None and signed.is_admin and signed.groups == ["soumu"]
    assert store.authenticate("tanaka", "wrong-password") is None
    assert store.authenticate("nobody", "hunter2hunter2") is None
    with pytest.raises(AuthError, match="既に登録"):
        store.add("tanaka", "another-password")
    with pytest.raises(AuthError, match="短すぎ"):
        store.add("suzuki", "short")
    with pytest.raises(AuthError, match="使えません"):
        store.add("../etc", "long-enough-password")
    store.set_password("tanaka", "a-new-password")
    assert store.authenticate("tanaka", "hunter2hunter2") is None and store.authenticate("tanaka", "a-new-password")
    assert store.remove("tanaka") and store.names() == []


def test_a_broken_users_file_is_a_japanese_error(tmp_path):
    path = tmp_path / "users.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AuthError, match="利用者ファイルを読めません"):
        UserStore(path).authenticate("a", "b")


def test_throttle_blocks_after_repeated_failures_then_releases():
    throttle = LoginThrottle(max_failures=3, lockout_s=60)
    for t in (0, 1, 2):
        assert throttle.blocked_for("tanaka", now=t) == 0
        throttle.failed("tanaka", now=t)
    assert throttle.blocked_for("tanaka", now=3) == pytest.approx(57)
    assert throttle.blocked_for("suzuki", now=3) == 0  # per name
    assert throttle.blocked_for("tanaka", now=61) == 0  # the window passed


def test_oidc_claims_map_to_clearance_groups_and_admin():
    settings = AuthSettings(oidc=True, clearance_by_group={"kimitsu2": 2, "kimitsu3": 3}, admin_groups=["ops"])
    user = user_from_claims({"email": "tanaka@example.go.jp", "groups": ["soumu", "kimitsu2", "ops"]}, settings)
    assert (user.name, user.clearance, user.is_admin, user.via) == ("tanaka@example.go.jp", 2, True, "oidc")
    assert user.access.groups == ["all", "kimitsu2", "ops", "soumu"]
    # An explicit clearance claim wins; groups may come as a comma-separated string.
    user = user_from_claims({"email": "a@b", "clearance": "3", "groups": "soumu, zaimu"}, settings)
    assert user.clearance == 3 and user.groups == ["all", "soumu", "zaimu"] and not user.is_admin
    # A clearance claim out of range falls back to the groups, then to the default (1).
    assert user_from_claims({"email": "a@b", "clearance": "9"}, settings).clearance == 1
    with pytest.raises(AuthError, match="クレーム"):
        user_from_claims({"groups": ["x"]}, settings)


def test_demo_user_is_created_once_with_a_random_private_password(tmp_path):
    store = UserStore(tmp_path / "users.json")
    password = ensure_demo_user(store, clearance=2)
    assert password and len(password) >= 12
    note = demo_password_file(store)
    assert note.read_text().strip() == password and stat.S_IMODE(note.stat().st_mode) == 0o600
    user = store.authenticate("demo", password)
    assert user is not None and user.is_admin and user.clearance == 2
    assert ensure_demo_user(store) is None  # an existing users file is never touched
    assert UserStore(tmp_path / "other.json").exists() is False


def test_user_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("GYOSEI_AUTH__USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["user", "add", "sato", "--clearance", "2", "--groups", "soumu,all", "--admin"],
                           input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "sato（管理者）" in result.output
    assert UserStore(tmp_path / "users.json").authenticate("sato", "s3cret-pass").clearance == 2
    result = runner.invoke(main, ["user", "add", "sato", "--password-stdin"], input="another-pass\n")
    assert result.exit_code == 2 and "既に登録" in result.output
    result = runner.invoke(main, ["user", "list"])
    assert "sato" in result.output and "admin" in result.output
    result = runner.invoke(main, ["user", "passwd", "sato", "--password-stdin"], input="brand-new-pass\n")
    assert result.exit_code == 0 and UserStore(tmp_path / "users.json").authenticate("sato", "brand-new-pass")
    assert runner.invoke(main, ["user", "remove", "sato"]).exit_code == 0
    assert runner.invoke(main, ["user", "remove", "sato"]).exit_code == 1


def test_demo_command_prints_the_password_once(tmp_path, monkeypatch):
    monkeypatch.setenv("GYOSEI_AUTH__USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    runner = CliRunner()
    first = runner.invoke(main, ["user", "demo"])
    password = (tmp_path / "demo-password.txt").read_text().strip()
    assert first.exit_code == 0 and password in first.output
    second = runner.invoke(main, ["user", "demo"])
    assert second.exit_code == 0 and password not in second.output and "既にあります" in second.output
