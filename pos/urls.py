"""Till URLs: the till at the root of the site."""

from django.urls import path

from pos import views

app_name = "pos"
urlpatterns = [
    path("", views.till, name="till"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    path("order/add/", views.add_product, name="add"),
    path("order/scan/", views.scan, name="scan"),
    path("order/line/<str:line_id>/", views.set_quantity, name="quantity"),
    path("order/table/", views.set_table, name="table"),
    path("order/line/<str:line_id>/void/", views.void_line, name="void_line"),
    path("order/tab/", views.open_tab, name="tab"),
    path("order/park/", views.park, name="park"),
    path("order/resume/", views.resume, name="resume"),
    path("order/pay/", views.pay, name="pay"),
    path("order/void/", views.void, name="void"),
    path("orders/", views.order_list, name="orders"),
    path("receipt/<int:pk>/", views.receipt, name="receipt"),
    path("receipt/<int:pk>/refund/", views.refund, name="refund"),
    path("reports/x/", views.x_report, name="x_report"),
    path("reports/z/", views.z_report, name="z_report"),
    path("reports/z/<int:pk>/", views.z_detail, name="z_detail"),
]
