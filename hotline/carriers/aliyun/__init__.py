"""Alibaba Cloud (Aliyun) as a carrier: calls with IvrCall (Dyvms), texts with SendSms (Dysms).

Aliyun cannot ring a group in one call or speak free text: every member is
called with a registered TTS prompt that reports the key pressed, and texted
with a registered SMS template. What comes back (call results, key presses,
SMS reports and replies) arrives as unsigned receipts, read by
:mod:`hotline.carriers.aliyun.receipts`.
"""

from hotline.carriers.aliyun.carrier import AliyunCarrier

__all__ = ["AliyunCarrier"]
