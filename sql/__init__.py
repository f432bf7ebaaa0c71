"""The pipeline's SQL (Athena dialect), shipped inside the wheel as the package ``clickstream_sql``.

Nothing here runs: ``resources.sql.SQL_ROOT`` locates these files through ``importlib.resources``, so an
installed wheel (a container image) reads the same files as a checkout.
"""
