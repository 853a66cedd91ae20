"""The investor pages (sign up, dashboard, account, requests, activity, lots, settings) and
the staff operations page, one module per group of pages.

Short function views: load through ``get_account_for_user`` (404 for anyone else's account),
validate with a form, call a service, render or redirect. htmx requests get the page's inline
partial instead of the whole page.
"""
