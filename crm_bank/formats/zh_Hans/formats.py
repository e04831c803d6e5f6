"""Simplified Chinese number formats as Chinese banks write figures: groups of three with a
comma (45,211; ¥12,345.67), like the money Babel formats. Django's own zh_Hans leaves counts
ungrouped, so a page showed "45211" beside "¥12,345.67". Dates come from Django's zh_Hans."""

from django.conf.locale.zh_Hans.formats import *  # noqa: F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
