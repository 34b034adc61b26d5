"""Presenters shared by the station console and the browser phone.

They turn stored records into words for people, in Chinese or English, and
depend only on the models and the translation catalogue: the console and the
phone page call them, never the other way round.
"""
