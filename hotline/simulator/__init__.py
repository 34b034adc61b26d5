"""A simulated Twilio for end-to-end runs: virtual phones that call, text and answer the hotline.

Use :class:`Simulator` in-process, or serve its HTTP API with
:func:`serve_simulator` / :func:`run_simulator`; the hotline reaches it through
:class:`hotline.carriers.simulator.SimulatorCarrier`.
"""

from hotline.simulator.engine import Simulator
from hotline.simulator.phones import Script
from hotline.simulator.refusals import CarrierRefusal
from hotline.simulator.server import create_simulator_app, run_simulator, serve_simulator

__all__ = ["CarrierRefusal", "Script", "Simulator", "create_simulator_app", "run_simulator", "serve_simulator"]
