"""Widgets: the components every page shares, the column configs, sign-in, and each page's own widgets."""
