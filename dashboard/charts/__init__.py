"""Pure chart builders: ready polars frames in, plotly figures out, in one shared look; nothing of Streamlit."""
