from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project itself: settings, URLs and the project commands (run, setup_schedules, health, seed_demo)."""

    name = "config"
    verbose_name = "Leadwerk"
