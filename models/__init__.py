# OpenVINO (the bf16 and ov-int8 engines) sends usage telemetry to Google Analytics when it is imported, and writes
# ~/intel/, unless its telemetry package cannot be imported: it then falls back to a stub of its own that does
# nothing (openvino.tools.ovc.telemetry_utils). Blocking that one import, before anything imports openvino, is an
# opt-out that writes no consent file into the user's home and sets no variable other programs read (CI=true).
import sys

sys.modules.setdefault("openvino_telemetry", None)
