"""The corruption page itself reads nothing from the database, so a damaged one cannot stop it showing."""

from __future__ import annotations

import sqlite3

from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject

from aurswift.startup.middleware import StartupGateMiddleware
from maintenance.context_processors import update_banner


def _who_is_signed_in():
    raise sqlite3.DatabaseError("database disk image is malformed")  # as a damaged auth_user table answers


def test_without_a_start_up_screen_the_damage_shows_a_page_that_looks_nobody_up(settings):
    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(_who_is_signed_in)
    middleware = StartupGateMiddleware(lambda r: None)
    response = middleware.process_exception(request, sqlite3.DatabaseError("database disk image is malformed"))
    assert response.status_code == 503
    text = response.content.decode()
    assert "Database Corruption Detected" in text and "database disk image is malformed" in text


def test_the_start_up_pages_do_not_ask_who_is_signed_in():
    request = RequestFactory().get("/startup/")
    request.user = SimpleLazyObject(_who_is_signed_in)
    assert update_banner(request) == {}
