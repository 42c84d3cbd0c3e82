from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "bench.baseline"
    label = "bench_baseline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bench.baseline import views  # noqa: F401  (connects the anymail receiver)
