"""``gyosei user ...``: manage the local users file of the Streamlit UI (salted scrypt hashes).

Examples::

    gyosei user add tanaka --clearance 2 --groups soumu,all    # asks for the password twice
    gyosei user add ops --admin --password-stdin < secret.txt  # for scripts
    gyosei user list
    gyosei user passwd tanaka
    gyosei user remove tanaka
    gyosei user demo                                           # first run: create `demo`, print its password
"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from app.cli_common import console, err_console, fail
from app.auth import ADMIN_ROLE, DEMO_USER, UserStore, demo_password_file, ensure_demo_user
from retrieval.errors import GyoseiError
from retrieval.settings import Settings



def _store() -> tuple[Settings, UserStore]:
    try:
        settings = Settings.load()
    except GyoseiError as exc:
        fail(exc)
    return settings, UserStore(settings.auth.users_file)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("パスワード", hide_input=True, confirmation_prompt="パスワード（確認）")


@click.group("user")
def user_group() -> None:
    """画面（Streamlit）の利用者を管理します（利用者ファイル: auth.users_file）。"""


@user_group.command("add")
@click.argument("name")
@click.option("--clearance", type=click.IntRange(1, 3), default=1, show_default=True, help="閲覧できる機密性の上限（1〜3）")
@click.option("--groups", default="all", show_default=True, help="所属グループ（カンマ区切り）")
@click.option("--admin", is_flag=True, help="管理者（文書管理・評価・利用状況のページを使える）")
@click.option("--replace", is_flag=True, help="既にいる利用者を上書きします")
@click.option("--password-stdin", is_flag=True, help="パスワードを標準入力の 1 行目から読みます")
def add(name: str, clearance: int, groups: str, admin: bool, replace: bool, password_stdin: bool) -> None:
    """利用者を登録します（パスワードを尋ねます）。"""
    settings, store = _store()
    password = _password(password_stdin)
    try:
        user = store.add(name, password, clearance=clearance, groups=groups.split(","),
                         roles=[ADMIN_ROLE] if admin else [], replace=replace)
    except GyoseiError as exc:
        fail(exc)
    role = "（管理者）" if user.is_admin else ""
    console.print(f"利用者 {user.name}{role} を登録しました: 機密性{user.clearance}まで、グループ {', '.join(user.groups)} "
                  f"— {store.path}")


@user_group.command("list")
def list_users() -> None:
    """登録されている利用者を表示します。"""
    _, store = _store()
    try:
        users = [store.get(n) for n in store.names()]
    except GyoseiError as exc:
        fail(exc)
    table = Table(title=f"利用者（{store.path}）")
    for col in ("利用者名", "機密性", "グループ", "役割"):
        table.add_column(col)
    for u in users:
        table.add_row(u.name, str(u.clearance), ", ".join(u.groups), ", ".join(u.roles))
    console.print(table)


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="パスワードを標準入力の 1 行目から読みます")
def passwd(name: str, password_stdin: bool) -> None:
    """利用者のパスワードを変更します。"""
    _, store = _store()
    try:
        store.set_password(name, _password(password_stdin))
    except GyoseiError as exc:
        fail(exc)
    if name == DEMO_USER:
        demo_password_file(store).unlink(missing_ok=True)  # the printed password no longer works
    console.print(f"{name} のパスワードを変更しました。")


@user_group.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """利用者を削除します。"""
    _, store = _store()
    try:
        removed = store.remove(name)
    except GyoseiError as exc:
        fail(exc)
    if not removed:
        err_console.print(f"利用者 {name} は登録されていません。")
        sys.exit(1)
    console.print(f"利用者 {name} を削除しました。")


@user_group.command("demo")
def demo() -> None:
    """利用者ファイルがなければ、お試し用の管理者 demo をランダムなパスワードで作ります（一度だけ表示）。"""
    settings, store = _store()
    try:
        password = ensure_demo_user(store, clearance=settings.security.max_confidentiality)
    except GyoseiError as exc:
        fail(exc)
    if password is None:
        console.print(f"利用者ファイル {store.path} は既にあります（変更していません）。")
        return
    console.print(f"お試し用の利用者 [bold]{DEMO_USER}[/]（管理者）を作りました。パスワード: [bold]{password}[/]")
    console.print(f"パスワードは {demo_password_file(store)}（本人のみ読めるファイル）にも保存しました。"
                  f"`gyosei user passwd {DEMO_USER}` で変更してください。")
