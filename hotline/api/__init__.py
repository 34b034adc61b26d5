"""HTTP APIs for other systems that are not the console's: raising alerts (``POST /api/alerts``)."""
