"""The server ``gyosei serve`` runs: the Streamlit app (``Home.py``) plus the session-cookie
endpoints (``app/session_routes.py``). ``streamlit run app/asgi.py`` finds ``app`` itself."""

from pathlib import Path

import streamlit as st

from app.session_routes import routes

app = st.App(str(Path(__file__).resolve().parent / "Home.py"), routes=routes())
