from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = gettext_lazy("Satisfaction surveys")
