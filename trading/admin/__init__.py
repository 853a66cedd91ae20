"""The staff admin for trading: securities, prices, dividends, accounts, intents and windows
(steerable), and the books (orders, blocks, fills, lots, disposals, ledger: read-only).

Staff never edit balances or history here: cash moves only through services that write the
ledger, and corrections are reversing entries, never edits. One module per group of models;
importing them registers them.
"""

from __future__ import annotations

from django.contrib import admin

from trading.admin import accounts, books, market, windows

admin.site.site_header = "Pies administration"
admin.site.site_title = "Pies admin"
admin.site.index_title = "Staff tools"

__all__ = ["accounts", "books", "market", "windows"]
