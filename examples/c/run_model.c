/* Runs an ONNX model through ONNX Runtime's C API and prints its outputs.
 *
 * Every input must be a float tensor; it is filled with 0, 0.1, ..., 0.9, 0, 0.1, ... (a
 * dynamic dimension counts as 1). Prints "onnxruntime VERSION", then "NAME=v1,v2,..." for
 * each output. Build: see README.md (pkg-config --static; no flag is written by hand). */
#include <stdio.h>
#include <stdlib.h>

#include "onnxruntime_c_api.h"

static const OrtApi* ort;

static void check(OrtStatus* status) {
  if (status != NULL) {
    fprintf(stderr, "error: %s\n", ort->GetErrorMessage(status));
    exit(1);
  }
}

/* A float tensor for input `index`, filled as described above; its data is leaked. */
static OrtValue* make_input(OrtSession* session, size_t index, const OrtMemoryInfo* memory) {
  OrtTypeInfo* type;
  const OrtTensorTypeAndShapeInfo* info;
  ONNXTensorElementDataType element;
  size_t rank, count = 1;
  check(ort->SessionGetInputTypeInfo(session, index, &type));
  check(ort->CastTypeInfoToTensorInfo(type, &info));
  if (info != NULL) check(ort->GetTensorElementType(info, &element));
  if (info == NULL || element != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
    fprintf(stderr, "error: input %zu is not a float tensor\n", index);
    exit(1);
  }
  check(ort->GetDimensionsCount(info, &rank));
  int64_t* dims = calloc(rank ? rank : 1, sizeof *dims);
  check(ort->GetDimensions(info, dims, rank));
  for (size_t d = 0; d < rank; d++) {
    if (dims[d] < 1) dims[d] = 1;
    count *= (size_t)dims[d];
  }
  float* data = malloc(count * sizeof *data);
  for (size_t i = 0; i < count; i++) data[i] = (float)(i % 10) / 10.0f;
  OrtValue* value;
  check(ort->CreateTensorWithDataAsOrtValue(memory, data, count * sizeof *data, dims, rank,
                                            ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &value));
  ort->ReleaseTypeInfo(type);
  free(dims);
  return value;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 2;
  }
  const OrtApiBase* base = OrtGetApiBase();
  ort = base->GetApi(ORT_API_VERSION);
  if (ort == NULL) {
    fprintf(stderr, "error: this ONNX Runtime does not provide C API %d\n", ORT_API_VERSION);
    return 1;
  }
  printf("onnxruntime %s\n", base->GetVersionString());

  OrtEnv* env;
  OrtSessionOptions* options;
  OrtSession* session;
  OrtMemoryInfo* memory;
  OrtAllocator* allocator;
  size_t n_in, n_out;
  check(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "run_model", &env));
  check(ort->CreateSessionOptions(&options));
  check(ort->CreateSession(env, argv[1], options, &session));
  check(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));
  check(ort->GetAllocatorWithDefaultOptions(&allocator));
  check(ort->SessionGetInputCount(session, &n_in));
  check(ort->SessionGetOutputCount(session, &n_out));

  char** in_names = calloc(n_in, sizeof *in_names);
  char** out_names = calloc(n_out, sizeof *out_names);
  OrtValue** inputs = calloc(n_in, sizeof *inputs);
  OrtValue** outputs = calloc(n_out, sizeof *outputs);
  for (size_t i = 0; i < n_in; i++) {
    check(ort->SessionGetInputName(session, i, allocator, &in_names[i]));
    inputs[i] = make_input(session, i, memory);
  }
  for (size_t i = 0; i < n_out; i++)
    check(ort->SessionGetOutputName(session, i, allocator, &out_names[i]));
  check(ort->Run(session, NULL, (const char* const*)in_names, (const OrtValue* const*)inputs,
                 n_in, (const char* const*)out_names, n_out, outputs));

  for (size_t i = 0; i < n_out; i++) {
    OrtTensorTypeAndShapeInfo* info;
    ONNXTensorElementDataType element;
    size_t count;
    float* data;
    check(ort->GetTensorTypeAndShape(outputs[i], &info));
    check(ort->GetTensorElementType(info, &element));
    check(ort->GetTensorShapeElementCount(info, &count));
    check(ort->GetTensorMutableData(outputs[i], (void**)&data));
    printf("%s=", out_names[i]);
    if (element != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) count = 0, printf("(not float)");
    for (size_t j = 0; j < count; j++) printf("%s%g", j ? "," : "", data[j]);
    printf("\n");
    ort->ReleaseTensorTypeAndShapeInfo(info);
    ort->ReleaseValue(outputs[i]);
  }
  for (size_t i = 0; i < n_in; i++) ort->ReleaseValue(inputs[i]);
  ort->ReleaseMemoryInfo(memory);
  ort->ReleaseSession(session);
  ort->ReleaseSessionOptions(options);
  ort->ReleaseEnv(env);
  return 0;
}
