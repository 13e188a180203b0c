"""The pages' Jinja environments: one per catalog language, its filters formatting through `simkeep.locale`.

The words depend on the language only; the formats on the reader's region as well (`format_locale` in the render
context, e.g. en_GB for an en-GB browser), so an environment is shared by every region of its language and
nobody can make the server compile templates again by inventing Accept-Language regions.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from simkeep.core.money import Money
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE, LANGUAGES, NAMES, TAGS, translations


@lru_cache(maxsize=8)
def environment(language: str) -> Environment:
    """One Jinja environment per language, so concurrent requests never share installed translations."""
    env = Environment(loader=PackageLoader("simkeep.web", "templates"), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    # jinja2.ext.i18n adds this method when the environment is made: the class does not declare it
    cast(Any, env).install_gettext_translations(translations(language), newstyle=True)
    env.filters.update(money=_money, last_day=_last_day, when=_when, phone=formats.phone, number=_number,
                       percent=_percent, day=_day)
    env.globals.update(language=language, languages=LANGUAGES, language_names=NAMES, language_tags=TAGS,
                       format_locale=BASE_LOCALE[language])
    return env


@pass_context
def _money(context: Context, minor: int, currency: str) -> str:
    return formats.money(Money(minor, currency), context["format_locale"])


@pass_context
def _number(context: Context, value: int) -> str:
    return formats.number(value, context["format_locale"])


@pass_context
def _percent(context: Context, basis_points: int) -> str:
    return formats.percent(basis_points, context["format_locale"])


@pass_context
def _day(context: Context, value) -> str:
    return formats.day(value, context["format_locale"])


@pass_context
def _last_day(context: Context, instant, tz: str) -> str:
    return formats.last_day(instant, tz, context["format_locale"])


@pass_context
def _when(context: Context, instant, tz: str) -> str:
    return formats.when(instant, tz, context["format_locale"])
