"""The real thing: the app served by `streamlit run` and driven in Chromium."""
