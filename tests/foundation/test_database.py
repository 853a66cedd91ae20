from django.db import connection


def test_the_database_is_postgresql(db):
    assert connection.vendor == "postgresql"
