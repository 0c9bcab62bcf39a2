"""nsparse: Korean and Korean-English neural sparse retrieval, trained with DVC and served by OpenSearch."""

__version__ = "0.1.0"
