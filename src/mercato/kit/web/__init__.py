"""HTTP glue shared by every module's endpoints.py (the only part of kit that knows FastAPI)."""
