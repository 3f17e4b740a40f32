"""Takings reports: X (a look at the current period) and Z (close the period).

The period is everything not yet closed by a Z report. Sales count when
paid; refunds are listed separately and subtracted for the net takings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from pos.models import LineVoid, Order, OrderLine, Payment, Refund, ZReport

SOLD = [Order.Status.PAID, Order.Status.REFUNDED]


@dataclass
class Takings:
    generated_at: datetime
    period_start: datetime | None
    order_count: int = 0
    gross_minor: int = 0
    vat_minor: int = 0
    refunds_minor: int = 0
    refunds_vat_minor: int = 0
    refund_count: int = 0
    void_count: int = 0
    line_void_count: int = 0
    line_void_minor: int = 0
    refunds: list = field(default_factory=list)
    by_method: dict[str, int] = field(default_factory=dict)
    by_vat_rate: dict[int, dict[str, int]] = field(default_factory=dict)
    change_given_minor: int = 0

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.refunds_minor

    @property
    def net_vat_minor(self) -> int:
        return self.vat_minor - self.refunds_vat_minor

    @property
    def cash_in_drawer_minor(self) -> int:
        refunds_cash = self.by_method.get("cash_refunds", 0)
        return self.by_method.get("cash", 0) - refunds_cash


def vat_by_rate(rows: Iterable[tuple[int, int, int]]) -> dict[int, dict[str, int]]:
    """Sum ``(rate_bp, gross_minor, vat_minor)`` rows into gross and VAT per rate, highest rate first.

    The one VAT summary of the till: a receipt passes its lines, the X and Z
    reports pass the period's lines already summed per rate by the database.
    Net is gross minus VAT (the templates subtract); nothing is re-rounded.
    """
    summary: dict[int, dict[str, int]] = {}
    for rate_bp, gross_minor, vat_minor in rows:
        entry = summary.setdefault(int(rate_bp), {"gross": 0, "vat": 0})
        entry["gross"] += gross_minor or 0
        entry["vat"] += vat_minor or 0
    return dict(sorted(summary.items(), reverse=True))


def receipt_vat(lines: Iterable[OrderLine]) -> dict[int, dict[str, int]]:
    """Return a receipt's VAT summary: gross and VAT per rate of its lines, highest rate first."""
    return vat_by_rate((line.vat_rate_bp, line.line_total_minor, line.vat_minor) for line in lines)


def x_report(now: datetime | None = None) -> Takings:
    """Return the takings since the last Z report, without closing anything."""
    now = now or timezone.now()
    last_z = ZReport.objects.order_by("-created_at").first()
    orders = Order.objects.filter(z_report__isnull=True, status__in=SOLD)
    totals = orders.aggregate(n=Count("pk"), gross=Sum("total_minor"), vat=Sum("vat_minor"))
    report = Takings(
        generated_at=now,
        period_start=last_z.created_at if last_z else None,
        order_count=totals["n"] or 0,
        gross_minor=totals["gross"] or 0,
        vat_minor=totals["vat"] or 0,
        void_count=Order.objects.filter(z_report__isnull=True, status=Order.Status.VOID).count(),
    )
    for row in Payment.objects.filter(order__in=orders).values("method").annotate(total=Sum("amount_minor")):
        report.by_method[row["method"]] = row["total"] or 0
    refunds = Refund.objects.filter(z_report__isnull=True)
    for row in refunds.values("method").annotate(total=Sum("amount_minor")):
        report.by_method[f"{row['method']}_refunds"] = row["total"] or 0
        report.refunds_minor += row["total"] or 0
    report.refunds = list(refunds.select_related("refunded_by", "approved_by").order_by("created_at", "pk"))
    report.refund_count = len(report.refunds)
    report.refunds_vat_minor = sum(r.vat_minor for r in report.refunds)
    voids = LineVoid.objects.filter(z_report__isnull=True).aggregate(n=Count("pk"), total=Sum("amount_minor"))
    report.line_void_count, report.line_void_minor = voids["n"] or 0, voids["total"] or 0
    lines = OrderLine.objects.filter(order__in=orders).values("vat_rate_bp")
    per_rate = lines.annotate(gross=Sum("line_total_minor"), vat=Sum("vat_minor")).order_by("-vat_rate_bp")
    report.by_vat_rate = vat_by_rate((row["vat_rate_bp"], row["gross"], row["vat"]) for row in per_rate)
    return report


@transaction.atomic
def close_z_report(by, now: datetime | None = None) -> ZReport:
    """Freeze the current takings into a Z report and start a new period."""
    takings = x_report(now)
    z = ZReport.objects.create(
        created_at=takings.generated_at,
        closed_by=by,
        order_count=takings.order_count,
        gross_minor=takings.gross_minor,
        vat_minor=takings.vat_minor,
        refunds_minor=takings.refunds_minor,
        refunds_vat_minor=takings.refunds_vat_minor,
        refund_count=takings.refund_count,
        void_count=takings.void_count,
        by_method=takings.by_method,
        by_vat_rate={str(k): v for k, v in takings.by_vat_rate.items()},
    )
    Order.objects.filter(z_report__isnull=True).exclude(status=Order.Status.OPEN).update(z_report=z)
    Refund.objects.filter(z_report__isnull=True).update(z_report=z)
    LineVoid.objects.filter(z_report__isnull=True).update(z_report=z)
    return z
