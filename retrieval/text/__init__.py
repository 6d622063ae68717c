"""Japanese text handling shared by ingestion and queries: normalization, dates, sparse terms."""
