from django.apps import AppConfig


class BenchextConfig(AppConfig):
    name = "benchmarks.benchext"
    label = "benchext"
