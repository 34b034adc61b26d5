"""The Aliyun carrier: SendSms, IvrCall and SingleCallByTts through Aliyun's SDKs, refusals in the project's words."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from alibabacloud_dysmsapi20170525 import models as sms_api
from alibabacloud_dysmsapi20170525.client import Client as SmsClient
from alibabacloud_dyvmsapi20170525 import models as voice_api
from alibabacloud_dyvmsapi20170525.client import Client as VoiceClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from alibabacloud_tea_openapi.models import Config

from hotline.carriers.aliyun import codes, outid
from hotline.carriers.aliyun.templates import Templates, drill_variant, is_broadcast
from hotline.carriers.base import (
    CallPrompt,
    Capabilities,
    CarrierError,
    FailureReason,
    OutboundSms,
    Submitted,
)

log = logging.getLogger(__name__)

# How often the opening prompt is played while the member may still press a key,
# and how often a notice with nothing to press (a spoken broadcast) is read out.
PLAY_TIMES = 2
# Aliyun's limits per called number, failed calls included.
CALL_SPACING_SECONDS = 60
CALLS_PER_HOUR = 5
CALLS_PER_DAY = 20


def domestic(number: str) -> str:
    """A mainland number as dialled within China, as Aliyun takes it: ``13800138000``, ``01088880000``.

    Raises:
        CarrierError: ``invalid_number``: Aliyun calls and texts mainland numbers only.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or parsed.country_code != 86:
        raise CarrierError(f"{number} is not a mainland China number", reason=FailureReason.INVALID_NUMBER)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(digit for digit in national if digit.isdigit())


def _config(endpoint: str, access_key_id: str, access_key_secret: str, timeout: float) -> Config:
    parts = urlsplit(endpoint)
    return Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        endpoint=parts.netloc,
        protocol=parts.scheme.upper(),
        read_timeout=int(timeout * 1000),
        connect_timeout=int(timeout * 1000),
    )


class AliyunCarrier:
    """Sends registered SMS templates and places calls with registered TTS prompts: an IvrCall when the
    prompt waits for a key, a SingleCallByTts (a voice notice) when it is only read out.

    Args:
        access_key_id: The RAM user's AccessKey ID.
        access_key_secret: Its secret; it also keys the ``OutId`` MACs.
        sign_name: The registered SMS signature (签名).
        caller_number: The calling number bought for voice (``CalledShowNumber``).
        templates: The checked templates file.
        sms_endpoint: Dysms' URL (tests point it at a mock).
        voice_endpoint: Dyvms' URL.
        timeout: Seconds to wait for Aliyun's answer.
    """

    name = "aliyun"
    # Aliyun refuses, and still counts, a call to a number called less than a minute
    # before, or past 5 in an hour or 20 in a day. The delivery engine keeps every
    # call within these (hotline/pacing/recipients.py): one that would break them
    # waits, and is never placed early.
    capabilities = Capabilities(
        ring_group=False,
        keypress_calls=True,
        free_text=False,
        max_ring_group=1,
        min_call_spacing=CALL_SPACING_SECONDS,
        max_calls_per_hour=CALLS_PER_HOUR,
        max_calls_per_day=CALLS_PER_DAY,
    )

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        caller_number: str,
        templates: Templates,
        sms_endpoint: str,
        voice_endpoint: str,
        timeout: float = 10.0,
    ) -> None:
        self.sign_name = sign_name
        self.caller_number = caller_number
        self.templates = templates
        self._secret = access_key_secret
        self._sms = SmsClient(_config(sms_endpoint, access_key_id, access_key_secret, timeout))
        self._voice = VoiceClient(_config(voice_endpoint, access_key_id, access_key_secret, timeout))

    def out_id(self, row_id: int, phone: str) -> str:
        """The signed ``OutId`` for a row sent to ``phone``."""
        return outid.sign(self._secret, row_id, phone)

    def send_sms(self, message: OutboundSms, *, reference: int) -> Submitted:
        """Send ``message`` as its registered template (a drill's as its drill variant), with the values it carries.

        Raises:
            CarrierError: Aliyun refused it (``isv.BUSINESS_LIMIT_CONTROL``:
                throttled, retried later; ``isv.MOBILE_NUMBER_ILLEGAL``: an
                invalid number), the template is not registered, or Aliyun
                could not be reached.
        """
        key = drill_variant(message.template) if message.drill else message.template
        request = sms_api.SendSmsRequest(
            phone_numbers=domestic(message.to),
            sign_name=self.sign_name,
            template_code=self._registered(key).code,
            template_param=self._values(key, message.params),
            out_id=self.out_id(reference, message.to),
        )
        body = self._call("SendSms", lambda: self._sms.send_sms(request).body)
        return Submitted(sid=self._accepted("SendSms", body, body.biz_id), status="queued")

    def place_call(self, *, to: str, reference: int, timeout: int, prompt: CallPrompt | None = None) -> Submitted:
        """Call ``to`` with IvrCall: ``prompt`` is played, and each key of ``prompt.replies`` answers;
        or, for a prompt with no replies, with SingleCallByTts: it is read out and nothing waits for a key.

        Aliyun plays registered prompts only (a drill's in their drill
        variants). The key pressed, and how the call ended, come back in
        receipts that carry ``reference`` in a signed ``OutId``.

        Raises:
            CarrierError: Aliyun refused it (``isv.BUSINESS_LIMIT_CONTROL``:
                throttled, retried later), or no prompt was given.
        """
        if prompt is None:
            raise CarrierError("Aliyun calls need a registered prompt", reason=FailureReason.REJECTED)
        number = domestic(to)
        if not prompt.replies:
            return self._notice(number, to, prompt, reference)

        def registered_key(key: str) -> str:
            return drill_variant(key) if prompt.drill else key

        menu = [
            voice_api.IvrCallRequestMenuKeyMap(
                key=key,
                code=self._registered(registered_key(reply)).code,
                tts_params=self._values(registered_key(reply), prompt.params),
            )
            for key, reply in prompt.replies.items()
        ]
        start = registered_key(prompt.template)
        request = voice_api.IvrCallRequest(
            called_number=number,
            called_show_number=self.caller_number,
            start_code=self._registered(start).code,
            start_tts_params=self._values(start, prompt.params),
            menu_key_map=menu,
            play_times=PLAY_TIMES,
            timeout=max(5, min(timeout, 60)) * 1000,
            out_id=self.out_id(reference, to),
        )
        body = self._call("IvrCall", lambda: self._voice.ivr_call(request).body)
        return Submitted(sid=self._accepted("IvrCall", body, body.call_id), status="queued")

    def _notice(self, number: str, to: str, prompt: CallPrompt, reference: int) -> Submitted:
        """Place a voice notice (SingleCallByTts): ``prompt`` read out ``PLAY_TIMES`` times, no keys."""
        key = drill_variant(prompt.template) if prompt.drill else prompt.template
        request = voice_api.SingleCallByTtsRequest(
            called_number=number,
            called_show_number=self.caller_number,
            tts_code=self._registered(key).code,
            tts_param=self._values(key, prompt.params),
            play_times=PLAY_TIMES,
            out_id=self.out_id(reference, to),
        )
        body = self._call("SingleCallByTts", lambda: self._voice.single_call_by_tts(request).body)
        return Submitted(sid=self._accepted("SingleCallByTts", body, body.call_id), status="queued")

    def message_problems(self, template: str, params: Mapping[str, str], channel: str) -> list[str]:
        """Why ``template`` with ``params`` would not be sent word for word: not registered, a value missing,
        or a value longer than a variable may be (which would be cut), in Chinese."""
        return self.templates.problems(template, params)

    def _registered(self, key: str) -> Any:
        try:
            return self.templates.get(key)
        except KeyError:
            raise CarrierError(f"no registered template for {key!r}", reason=FailureReason.REJECTED) from None

    def _values(self, key: str, params: Any) -> str:
        if is_broadcast(key):
            # A broadcast's words are never cut: checked before it was confirmed, and again here.
            problems = self.templates.problems(key, params)
            if problems:
                raise CarrierError("; ".join(problems), reason=FailureReason.REJECTED)
        try:
            return self.templates.values(key, params)
        except KeyError as exc:
            raise CarrierError(f"template {key!r} needs a value for {exc}", reason=FailureReason.REJECTED) from None

    @staticmethod
    def _call(action: str, send: Any) -> Any:
        """Run one SDK request, its failures turned into :class:`CarrierError`."""
        try:
            return send()
        except ThrottlingException as exc:
            raise CarrierError(
                f"{action}: {exc.code}", reason=FailureReason.THROTTLED, http_status=exc.status_code
            ) from exc
        except AlibabaCloudException as exc:
            reason = codes.api_reason(exc.code, exc.status_code)
            raise CarrierError(
                f"{action} refused: {exc.code} {exc.message}", reason=reason, http_status=exc.status_code
            ) from exc
        except CarrierError:
            raise
        except Exception as exc:  # the SDK's own network and timeout errors have no common base
            raise CarrierError(f"{action}: Aliyun unreachable: {exc}", reason=FailureReason.CARRIER_ERROR) from exc

    @staticmethod
    def _accepted(action: str, body: Any, sid: str | None) -> str:
        """The id Aliyun gave a request it accepted.

        Raises:
            CarrierError: The answer's ``Code`` is not ``OK``, or it carries no id.
        """
        if body is None or body.code != "OK":
            code = getattr(body, "code", None)
            message = getattr(body, "message", "")
            raise CarrierError(f"{action} refused: {code} {message}", reason=codes.api_reason(code, 200))
        if not sid:
            raise CarrierError(f"{action} answered OK without an id", reason=FailureReason.CARRIER_ERROR)
        return sid

