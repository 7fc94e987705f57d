"""The boundary: cached loaders that read the database into polars and run the queries, and the entry points of the
writes, each in one transaction and clearing only the caches it changed."""
