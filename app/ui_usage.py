"""利用状況: a dashboard from the audit log (administrators): questions per day, use per page,
feedback ratio, latency percentiles, frequent search terms."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import resources
from app.ui_common import current_user, require_admin, settings_or_stop, show_error
from app.usage import (
    asked_within,
    feedback_ratio,
    frequent_terms,
    latency_percentiles,
    TIMEZONE,
    local_day,
    questions_per_day,
    use_per_page,
)

user = current_user()
require_admin(user)
settings = settings_or_stop()
st.title("利用状況")

today = dt.datetime.now(TIMEZONE).date()  # the days below are Japan-time days (local_day)
c1, c2 = st.columns(2)
since = c1.date_input("開始日", value=today - dt.timedelta(days=30), format="YYYY-MM-DD", key="usage_since")
until = c2.date_input("終了日", value=today, format="YYYY-MM-DD", key="usage_until")
try:
    events = resources.audit_log(settings).query(since=since - dt.timedelta(days=1), until=until + dt.timedelta(days=1))
except Exception as exc:  # noqa: BLE001 - AuditError explains in Japanese
    show_error(exc)
    st.stop()
# The log stores UTC; widen by a day above, then keep the Japan-time days asked for.
events = [e for e in events if since.isoformat() <= local_day(e) <= until.isoformat()]
per_day = questions_per_day(events)
fb = feedback_ratio(events)
p50, p95, n_timed = latency_percentiles(events)

m = st.columns(4)
m[0].metric("質問数", f"{sum(per_day.values()):,}")
m[1].metric("評価「良い」の割合", "—" if fb.good_share is None else f"{fb.good_share:.0%}", help=f"良い {fb.good} 件・悪い {fb.bad} 件")
m[2].metric("応答時間 p50", "—" if p50 is None else f"{p50 / 1000:.2f} 秒")
m[3].metric("応答時間 p95", "—" if p95 is None else f"{p95 / 1000:.2f} 秒", help=f"{n_timed} 件の質問から")

if not events:
    st.info("この期間の記録はありません。")
    st.stop()

st.subheader("日ごとの質問数")
if per_day:
    st.bar_chart(pd.DataFrame({"日付": list(per_day), "質問数": list(per_day.values())}), x="日付", y="質問数")
else:
    st.caption("この期間の質問はありません。")

left, right = st.columns(2)
with left:
    st.subheader("ページ別の利用")
    pages = use_per_page(events)
    st.dataframe(pd.DataFrame({"ページ": list(pages), "件数": list(pages.values())}), hide_index=True, width="stretch")
with right:
    st.subheader("よく検索される語")
    # Only questions of users whose access lies within yours: the words reveal what they read.
    terms = frequent_terms(events, include=asked_within(resources.user_store(settings), user))
    st.caption("あなたの閲覧範囲（機密性・グループ）内の利用者の質問から集計しています。")
    if terms:
        st.dataframe(pd.DataFrame(terms, columns=["語", "質問数"]), hide_index=True, width="stretch")
    else:
        st.caption("まだありません。")
