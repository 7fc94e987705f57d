"""Text from outside (a user, a file, a URL, the database) shown as itself wherever Streamlit reads markdown."""

from __future__ import annotations

import re

import polars as pl

# The marks markdown and Streamlit give a meaning to: emphasis, code, links and images, headings, lists, quotes,
# tables, HTML and entities, strikethrough, math, :directives:. CommonMark makes each literal behind a backslash.
MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:@&=])")
# What is found in the text after parsing, where the backslashes are gone: the bare URLs (http://, www.) and emails
# GFM links by itself, and Streamlit's :material/icons:. An invisible word joiner after each ':' and '@', and
# between "www" and ".", keeps them text.
JOINER = "\u2060"
FOUND_AFTER_PARSING = re.compile(r"(?<=\\[:@])|(?i:(?<=www))(?=\\\.)")


def plain(text: object) -> str:
    """text as a markdown source that shows exactly text: every mark markdown reads escaped, and an invisible word
    joiner where a URL, an email or an icon name would still be found.

    For the elements that read markdown (st.markdown, st.caption, st.write, st.info/warning/error/success, st.toast,
    st.table cells, widget, metric and expander labels); never for those that show text as it is (st.text, st.code,
    st.dataframe, options, placeholders), where the backslashes would show.
    """
    return FOUND_AFTER_PARSING.sub(JOINER, MARKUP.sub(r"\\\1", str(text)))


def plain_table(frame: pl.DataFrame) -> pl.DataFrame:
    """frame with every text cell made plain(), for st.table (which reads each cell as markdown)."""
    return frame.with_columns(
        pl.col(name).map_elements(plain, return_dtype=pl.String)
        for name, kind in frame.schema.items()
        if kind == pl.String
    )
