"""The REST API and the models it validates."""
