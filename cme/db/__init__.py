"""Database roles, schemas and connection URLs (least privilege, non-negotiable 6)."""
