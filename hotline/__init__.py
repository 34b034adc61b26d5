"""hotline: one dial rings the whole joint-defence group.

The app factory lives in :mod:`hotline.app`; shared accessors such as
``get_settings`` live in :mod:`hotline.extensions`, so that every layer can
reach them without loading the factory.
"""
