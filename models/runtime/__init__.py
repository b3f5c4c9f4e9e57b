"""The inference runtime: runs an exported encoder graph on token ids, fast, on a CPU. It knows graphs, engines and
cores, not reviews or sentiment; models/ builds the domain on top of it.

- planner.py   which sequences go into which model call and row (padded or packed)
- export.py    the torch → ONNX export and the on-disk graph cache (fingerprints, shared embedding tables, stale graphs)
- quantize.py  int8 rewrites of an exported graph (per-token int8 for ONNX Runtime, int8 weights for OpenVINO)
- backends.py  `OnnxNet`: a graph on ONNX Runtime or OpenVINO, its call pool and memory tuning; `onnx_net`
- hardware.py  CPU detection, the engine choice (VOC_ENGINE=auto), numpy's BLAS threads
- embedder.py  sentence embeddings from the pretrained e5 encoder (aspect similarity, topics)
"""
