"""Finding 7: 利用状況's frequent terms come only from questions of users whose access lies
within the viewing administrator's: a term only clearance-3 users asked about never reaches a
clearance-1 or -2 administrator."""

from __future__ import annotations

from app.audit import AuditLog
from app.auth import User, UserStore
from app.usage import asked_within, frequent_terms

from ..app_testing import ADMIN, PASSWORD, app_env, open_page  # noqa: F401  (fixture)


def _events(log: AuditLog):
    log.record("sec", "question", {"question": "カナリア計画の進捗を教えてください", "page": "質問"})
    log.record("sec", "question", {"question": "カナリア計画の予算はいくらですか", "page": "質問"})
    log.record("clerk", "question", {"question": "マイナンバーカードの交付について", "page": "質問"})
    log.record("gone", "question", {"question": "削除された利用者の秘密計画", "page": "質問"})


def test_terms_of_users_above_the_viewer_are_left_out(tmp_path):
    store = UserStore(tmp_path / "users.json")
    store.add("sec", PASSWORD, clearance=3, groups=["kikaku"])
    store.add("clerk", PASSWORD, clearance=1)
    store.add("admin1", PASSWORD, clearance=1, roles=["admin"])
    store.add("admin3", PASSWORD, clearance=3, groups=["kikaku"], roles=["admin"])
    with AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as log:
        _events(log)
        events = log.query()
    low = dict(frequent_terms(events, include=asked_within(store, store.get("admin1"))))
    assert "マイナンバーカード" in low and not any("カナリア" in t for t in low) and not any("秘密" in t for t in low)
    high = dict(frequent_terms(events, include=asked_within(store, store.get("admin3"))))
    assert any("カナリア" in t for t in high)
    # The same clearance without the group is not enough.
    other = User("admin3b", 3, ["all", "soumu"], ["admin"])
    assert not any("カナリア" in t for t in dict(frequent_terms(events, include=asked_within(store, other))))


def test_the_usage_page_shows_a_clearance_2_administrator_no_clearance_3_terms(app_env):
    UserStore(app_env / "var/users.json").add("sec", PASSWORD, clearance=3, groups=["kikaku"])
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        _events(log)
    at = open_page(ADMIN, "ui_usage.py")
    shown = " ".join(str(v) for df in at.dataframe for v in df.value.to_numpy().ravel())
    assert "マイナンバーカード" in shown
    assert "カナリア" not in shown and "秘密" not in shown
