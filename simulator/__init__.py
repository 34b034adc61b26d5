"""A simulated Twilio for development and end-to-end runs: virtual phones that call, text and answer the hotline.

It can also play Alibaba Cloud (Aliyun) for a service whose carrier is
Aliyun (:class:`AliyunSetup`).

A development tool kept apart from the service: it imports nothing of the
service, and the service never imports it. Use :class:`Simulator` in-process,
or serve its HTTP API with :func:`serve_simulator` / :func:`run_simulator`; the
service reaches that API over HTTP only, with its own client (the simulator
carrier and the control client next to it).
"""

from simulator.aliyun import AliyunSetup
from simulator.engine import Simulator
from simulator.phones import Script
from simulator.refusals import CarrierRefusal
from simulator.server import create_simulator_app, run_simulator, serve_simulator

__all__ = [
    "AliyunSetup",
    "CarrierRefusal",
    "Script",
    "Simulator",
    "create_simulator_app",
    "run_simulator",
    "serve_simulator",
]
