"""Domain services: plain functions that take a SQLAlchemy session, with no Flask in sight."""
