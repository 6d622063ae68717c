"""利用状況: a dashboard from the audit log (administrators): questions per day, users and
sign-ins, use per page by what was done there, feedback ratio, latency percentiles, frequent
search terms, and the periodic report (per month and group) as CSV, Excel or Markdown. Every day
is a day of the configured time zone (``export.timezone``, Japan time by default)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import resources
from app.ui_common import current_user, require_admin, settings_or_stop, show_error
from app.usage import (
    ACTION_LABELS,
    asked_within,
    feedback_ratio,
    frequent_terms,
    latency_percentiles,
    local_today,
    questions_per_day,
    use_per_page,
    users_and_sign_ins,
    within_days,
    zone,
)

user = current_user()
require_admin(user)
settings = settings_or_stop()
tz = zone(settings.export.timezone)
st.title("利用状況")

today = local_today(tz)  # the range, the chart and the counts are days of one time zone
c1, c2 = st.columns(2)
since = c1.date_input("開始日", value=today - dt.timedelta(days=30), format="YYYY-MM-DD", key="usage_since")
until = c2.date_input("終了日", value=today, format="YYYY-MM-DD", key="usage_until")
st.caption(f"日付は {settings.export.timezone} の日付で数えています。")
try:
    events = resources.audit_log(settings).query(since=since - dt.timedelta(days=1), until=until + dt.timedelta(days=1))
except Exception as exc:  # noqa: BLE001 - AuditError explains in Japanese
    show_error(exc)
    st.stop()
# The log stores UTC; widen by a day above, then keep the local days asked for.
events = within_days(events, since, until, tz)
per_day = questions_per_day(events, tz)
fb = feedback_ratio(events)
p50, p95, n_timed = latency_percentiles(events)
n_users, n_sign_ins = users_and_sign_ins(events)

m = st.columns(6)
m[0].metric("質問数", f"{sum(per_day.values()):,}")
m[1].metric("利用者数", f"{n_users:,}", help="この期間に操作またはログインした利用者の人数")
m[2].metric("ログイン回数", f"{n_sign_ins:,}")
m[3].metric("評価「良い」の割合", "—" if fb.good_share is None else f"{fb.good_share:.0%}", help=f"良い {fb.good} 件・悪い {fb.bad} 件")
m[4].metric("応答時間 p50", "—" if p50 is None else f"{p50 / 1000:.2f} 秒")
m[5].metric("応答時間 p95", "—" if p95 is None else f"{p95 / 1000:.2f} 秒", help=f"回答を返した {n_timed} 件の質問から")

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
    columns = list(dict.fromkeys(ACTION_LABELS.values()))
    table = pd.DataFrame([{"ページ": p, **{c: counts.get(c, 0) for c in columns}} for p, counts in pages.items()],
                         columns=["ページ", *columns])
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("「質問」列の合計は質問数と一致します（評価・確認などは別の列です）。")
with right:
    st.subheader("よく検索される語")
    # Only questions of users whose access lies within yours: the words reveal what they read.
    terms = frequent_terms(events, include=asked_within(resources.user_store(settings), user))
    st.caption("あなたの閲覧範囲（機密性・グループ）内の利用者の質問から集計しています。")
    if terms:
        st.dataframe(pd.DataFrame(terms, columns=["語", "質問数"]), hide_index=True, width="stretch")
    else:
        st.caption("まだありません。")

st.subheader("定期報告（月別・グループ別）")
st.caption("上の期間について、月別・グループ別の質問・答弁作成・出力・回答の有無・要確認・確認・評価・応答時間を出力します。")
fmt = st.radio("形式", ["xlsx", "csv", "md"], horizontal=True, key="usage_report_format",
               format_func={"xlsx": "Excel（.xlsx）", "csv": "CSV", "md": "Markdown"}.get)
try:
    from app.usage_report import build_report

    report = build_report(settings, resources.audit_log(settings), since, until, fmt)
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()


def _exported() -> None:
    try:
        resources.audit_log(settings).record(user.name, "export", {"page": "利用状況", "format": fmt, "report": "usage",
                                                                   "from": since.isoformat(), "until": until.isoformat()})
    except Exception:  # noqa: BLE001 - the download already happened
        import logging

        logging.getLogger(__name__).exception("could not record a report export")


st.download_button("定期報告をダウンロード", report, file_name=f"利用状況報告-{since}-{until}.{fmt}",
                   mime={"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         "csv": "text/csv", "md": "text/markdown"}[fmt], on_click=_exported, key="usage_report_download")
