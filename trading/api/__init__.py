"""REST API v1 (api.md), trading side, split by subdomain: ``base`` (plumbing shared with
``pies.api``), ``market`` (token, securities, prices, dividends), ``intents`` (money in and
out, rebalances, previews), ``history`` (lots, realized gains, orders), ``windows``."""
