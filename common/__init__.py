"""What the emulators, the sync core and the analysis share, and may all import.

``emulators`` and ``sync_core`` never import each other, and ``analysis`` imports
neither (``tests/test_architecture.py``); what they must agree on lives here, and this
package imports none of them: the fact-change record an emulator journals and the
analysis reads (:mod:`common.facts`), and the OpenTelemetry set-up every service makes
the same way (:mod:`common.tracing`).
"""
