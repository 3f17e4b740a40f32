"""Every request passes the swap gate, so a restore never replaces the database under a sale being written."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from maintenance.db.swap_gate import gate


class SwapGateMiddleware:
    """Hold each request at the door while a restore swaps the database file."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with gate.shared():
            return self.get_response(request)
