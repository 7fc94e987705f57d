"""Pure polars queries: LazyFrames in, LazyFrames out; no I/O, no Streamlit."""
