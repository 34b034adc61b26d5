"""The Aliyun carrier: SendSms and IvrCall through Aliyun's SDKs, refusals in the project's words."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from alibabacloud_dysmsapi20170525 import models as sms_api
from alibabacloud_dysmsapi20170525.client import Client as SmsClient
from alibabacloud_dyvmsapi20170525 import models as voice_api
from alibabacloud_dyvmsapi20170525.client import Client as VoiceClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from alibabacloud_tea_openapi.models import Config

from hotline.carriers.aliyun import codes, outid
from hotline.carriers.aliyun.spacing import SPACING_SECONDS, CallSpacing
from hotline.carriers.aliyun.templates import Templates
from hotline.carriers.base import (
    CallPrompt,
    Capabilities,
    CarrierError,
    FailureReason,
    OutboundSms,
    Submitted,
)

log = logging.getLogger(__name__)

# How often the opening prompt is played while the member may still press a key.
PLAY_TIMES = 2


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


def _row_id(status_callback: str) -> int:
    """The outbox row a send is for: the project's callback URLs name it as ``n``.

    Raises:
        CarrierError: ``rejected``: the callback names no row, so no receipt could be matched.
    """
    values = parse_qs(urlsplit(status_callback).query).get("n", [])
    if not values or not values[0].isdigit():
        raise CarrierError("the callback names no outbox row", reason=FailureReason.REJECTED)
    return int(values[0])


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
    """Sends registered SMS templates and places IvrCalls with registered TTS prompts.

    Args:
        access_key_id: The RAM user's AccessKey ID.
        access_key_secret: Its secret; it also keys the ``OutId`` MACs.
        sign_name: The registered SMS signature (签名).
        caller_number: The calling number bought for voice (``CalledShowNumber``).
        templates: The checked templates file.
        sms_endpoint: Dysms' URL (tests point it at a mock).
        voice_endpoint: Dyvms' URL.
        spacing: The per-number call limits, kept before every call.
        timeout: Seconds to wait for Aliyun's answer.
    """

    name = "aliyun"
    capabilities = Capabilities(
        ring_group=False, keypress_calls=True, free_text=False, max_ring_group=1, min_call_spacing=SPACING_SECONDS
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
        spacing: CallSpacing | None,
        timeout: float = 10.0,
    ) -> None:
        self.sign_name = sign_name
        self.caller_number = caller_number
        self.templates = templates
        self.spacing = spacing
        self._secret = access_key_secret
        self._sms = SmsClient(_config(sms_endpoint, access_key_id, access_key_secret, timeout))
        self._voice = VoiceClient(_config(voice_endpoint, access_key_id, access_key_secret, timeout))

    def out_id(self, row_id: int, phone: str) -> str:
        """The signed ``OutId`` for a row sent to ``phone``."""
        return outid.sign(self._secret, row_id, phone)

    def send_sms(self, message: OutboundSms, *, status_callback: str) -> Submitted:
        """Send ``message`` as its registered template, with the values it carries.

        Raises:
            CarrierError: Aliyun refused it (``isv.BUSINESS_LIMIT_CONTROL``:
                throttled, retried later; ``isv.MOBILE_NUMBER_ILLEGAL``: an
                invalid number), the template is not registered, or Aliyun
                could not be reached.
        """
        request = sms_api.SendSmsRequest(
            phone_numbers=domestic(message.to),
            sign_name=self.sign_name,
            template_code=self._registered(message.template).code,
            template_param=self._values(message.template, message.params),
            out_id=self.out_id(_row_id(status_callback), message.to),
        )
        body = self._call("SendSms", lambda: self._sms.send_sms(request).body)
        return Submitted(sid=self._accepted("SendSms", body, body.biz_id), status="queued")

    def place_call(
        self, *, to: str, url: str, status_callback: str, timeout: int, prompt: CallPrompt | None = None
    ) -> Submitted:
        """Call ``to`` with IvrCall: ``prompt`` is played, and each key of ``prompt.replies`` answers.

        ``url`` does not apply: Aliyun plays registered prompts only. The key
        pressed comes back in a receipt.

        Raises:
            CarrierError: ``throttled`` when the number was called less than a
                minute ago or too often this hour or day (retried later; the
                call is not placed); Aliyun refused it; no prompt was given.
        """
        if prompt is None:
            raise CarrierError("Aliyun calls need a registered prompt", reason=FailureReason.REJECTED)
        number = domestic(to)
        menu = [
            voice_api.IvrCallRequestMenuKeyMap(
                key=key, code=self._registered(reply).code, tts_params=self._values(reply, prompt.params)
            )
            for key, reply in prompt.replies.items()
        ]
        request = voice_api.IvrCallRequest(
            called_number=number,
            called_show_number=self.caller_number,
            start_code=self._registered(prompt.template).code,
            start_tts_params=self._values(prompt.template, prompt.params),
            menu_key_map=menu,
            play_times=PLAY_TIMES,
            timeout=max(5, min(timeout, 60)) * 1000,
            out_id=self.out_id(_row_id(status_callback), to),
        )
        self._reserve(to)
        body = self._call("IvrCall", lambda: self._voice.ivr_call(request).body)
        return Submitted(sid=self._accepted("IvrCall", body, body.call_id), status="queued")

    def _reserve(self, to: str) -> None:
        if self.spacing is None:
            return
        try:
            refused = self.spacing.reserve(to)
        except Exception as exc:  # Redis down: no call without knowing the spacing holds
            raise CarrierError(f"cannot check the call limits: {exc}", reason=FailureReason.CARRIER_ERROR) from exc
        if refused:
            raise CarrierError(f"not called: {refused}", reason=FailureReason.THROTTLED)

    def _registered(self, key: str) -> Any:
        try:
            return self.templates.get(key)
        except KeyError:
            raise CarrierError(f"no registered template for {key!r}", reason=FailureReason.REJECTED) from None

    def _values(self, key: str, params: Any) -> str:
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

