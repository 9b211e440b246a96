"""Data Sharing Agreements as code: read access_policies/, compile to PostgreSQL roles, grants and policies."""
