"""Tests of pages/ and their widgets under Streamlit's AppTest."""
