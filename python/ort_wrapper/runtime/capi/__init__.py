"""The C API backend: any ``libonnxruntime.so*`` (ORT API >= 16) driven through ctypes.

``header`` reads ``struct OrtApi`` from ORT's ``onnxruntime_c_api.h`` (``ortapi.json`` is the
committed table); ``api`` binds the table of a loaded library and turns every ``OrtStatus`` into
``OrtApiError``; ``values`` converts numpy to OrtValues and back; ``runtime`` is what
``SessionBuilder``/``Session`` call (``CapiRuntime``, ``CapiSession``); ``library`` finds (or, for
a static distribution, links) the library; ``probe`` asks a library for its version in a child
process. Nothing here is imported by ``import ort_wrapper``.
"""
