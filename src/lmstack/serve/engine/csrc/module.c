/* The `lmstack.serve.engine._kernels` extension: an empty importable module, so the build and the
 * package find it like any extension. The kernels in decode_attention.c and pointwise.c are plain C
 * functions reached through ctypes (lmstack.serve.engine.native). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "lmstack's CPU kernels (see lmstack.serve.engine.native).", -1, NULL,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
