"""Twilio's text-to-speech voices, by the language each one speaks.

A ``<Say>`` must name a voice together with the ``language`` that voice
speaks; a voice asked for a language it does not speak fails the verb, and
Twilio's default voice speaks no Chinese at all. The table lists voices as
Twilio's text-to-speech page documents them (Amazon Polly and Google),
enough for the template languages hotline ships: Mandarin and English.
"""

from __future__ import annotations

from config.settings import Settings, SettingsError

# Twilio's language code of each listed voice's language.
MANDARIN = "cmn-CN"
US_ENGLISH = "en-US"
UK_ENGLISH = "en-GB"


def _google(locale: str, kind: str, letters: str) -> set[str]:
    return {f"Google.{locale}-{kind}-{letter}" for letter in letters}


VOICES: dict[str, frozenset[str]] = {
    MANDARIN: frozenset(
        {"Polly.Zhiyu", "Polly.Zhiyu-Neural"}
        | _google(MANDARIN, "Standard", "ABCD")
        | _google(MANDARIN, "Wavenet", "ABCD")
    ),
    US_ENGLISH: frozenset(
        {
            "Polly.Joanna", "Polly.Salli", "Polly.Kimberly", "Polly.Kendra", "Polly.Ivy",
            "Polly.Matthew", "Polly.Justin", "Polly.Joey",
        }
        | {
            f"Polly.{name}-Neural"
            for name in ("Joanna", "Salli", "Kimberly", "Kendra", "Ivy", "Matthew", "Justin", "Joey", "Kevin")
        }
        | _google(US_ENGLISH, "Standard", "ABCDEFGHIJ")
        | _google(US_ENGLISH, "Wavenet", "ABCDEFGHIJ")
    ),
    UK_ENGLISH: frozenset(
        {"Polly.Amy", "Polly.Emma", "Polly.Brian", "Polly.Amy-Neural", "Polly.Emma-Neural", "Polly.Brian-Neural"}
        | _google(UK_ENGLISH, "Standard", "ABCDF")
        | _google(UK_ENGLISH, "Wavenet", "ABCDF")
    ),
}

# The Twilio languages a voice may speak for each template language of config/templates.
SPOKEN: dict[str, tuple[str, ...]] = {
    "zh": (MANDARIN,),
    "en": (US_ENGLISH, UK_ENGLISH),
}

# The voice used when HOTLINE_VOICE is unset, per template language.
DEFAULT_VOICES: dict[str, str] = {
    "zh": "Polly.Zhiyu",
    "en": "Polly.Joanna",
}


def language_of(voice: str) -> str | None:
    """The Twilio language code ``voice`` speaks, or None when the table does not list it."""
    for language, voices in VOICES.items():
        if voice in voices:
            return language
    return None


def check_voice(settings: Settings) -> None:
    """Check that ``HOTLINE_VOICE`` is a Twilio voice speaking the templates' language.

    Raises:
        SettingsError: The voice is not one Twilio lists, or it speaks another
            language than ``HOTLINE_LANGUAGE``'s templates are written in, or
            no voice is known for that language. The message names
            ``HOTLINE_VOICE`` and the voices that would do.
    """
    wanted = SPOKEN.get(settings.language)
    if wanted is None:
        raise SettingsError(
            f"HOTLINE_LANGUAGE：不知道哪个 Twilio 语音会说“{settings.language}”；"
            f"有语音的语言：{'、'.join(sorted(SPOKEN))}"
        )
    if settings.voice is None:
        return
    spoken = language_of(settings.voice)
    if spoken in wanted:
        return
    reason = (
        f"说的是 {spoken}，不是 HOTLINE_LANGUAGE={settings.language} 的语言"
        if spoken
        else "不是 Twilio 列出的语音"
    )
    raise SettingsError(
        f"HOTLINE_VOICE：“{settings.voice}”{reason}；不设置则使用 {DEFAULT_VOICES[settings.language]}，"
        f"或选一个 {'/'.join(wanted)} 语音，例如 {_examples(wanted)}"
    )


def _examples(languages: tuple[str, ...], count: int = 6) -> str:
    """A few voices of ``languages`` to suggest, Amazon Polly's first."""
    voices = sorted(
        (voice for language in languages for voice in VOICES[language]),
        key=lambda voice: (not voice.startswith("Polly."), voice),
    )
    return ", ".join(voices[:count])


def say_voice(settings: Settings) -> tuple[str, str]:
    """``(voice, language)`` for every ``<Say>``: ``HOTLINE_VOICE`` or the language's default.

    Settings that skipped :func:`check_voice` and name a voice that cannot
    read the templates get the default voice, so no prompt goes unspoken.
    """
    default = DEFAULT_VOICES.get(settings.language, DEFAULT_VOICES["zh"])
    voice = settings.voice or default
    language = language_of(voice)
    if language is None or language not in SPOKEN.get(settings.language, ()):
        voice = default
        language = language_of(default) or MANDARIN
    return voice, language
