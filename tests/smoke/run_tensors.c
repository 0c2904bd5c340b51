/* Runs an ONNX model through ONNX Runtime's C API on inputs read from raw files and writes
 * each output's bytes to OUTDIR/NAME.bin (one intra-op thread, so two builds can be compared
 * bit for bit). Usage: run_tensors MODEL OUTDIR NAME=TYPE:DIMS:FILE ...
 * TYPE is float or int64; DIMS is like 1x3x32x32, or "scalar". Prints "NAME TYPE N" for
 * each output. Exits 1 with ONNX Runtime's message on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxruntime_c_api.h"

#define MAX_INPUTS 16
#define MAX_RANK 8

static const OrtApi* ort;

static void check(OrtStatus* status) {
  if (status != NULL) {
    fprintf(stderr, "error: %s\n", ort->GetErrorMessage(status));
    exit(1);
  }
}

static void fail(const char* what, const char* arg) {
  fprintf(stderr, "error: %s: %s\n", what, arg);
  exit(1);
}

static void* read_file(const char* path, size_t expected) {
  FILE* fh = fopen(path, "rb");
  if (fh == NULL) fail("cannot open", path);
  void* data = malloc(expected ? expected : 1);
  if (fread(data, 1, expected, fh) != expected || fgetc(fh) != EOF) fail("wrong size", path);
  fclose(fh);
  return data;
}

/* NAME=TYPE:DIMS:FILE -> a tensor; *name points into arg (the '=' is overwritten). */
static OrtValue* parse_input(char* arg, const char** name, const OrtMemoryInfo* memory) {
  char* type = strchr(arg, '=');
  char* dims = type ? strchr(type + 1, ':') : NULL;
  char* file = dims ? strchr(dims + 1, ':') : NULL;
  if (file == NULL) fail("expected NAME=TYPE:DIMS:FILE", arg);
  *type++ = *dims++ = *file++ = '\0';
  *name = arg;
  int64_t shape[MAX_RANK];
  size_t rank = 0, count = 1;
  for (char* d = strtok(strcmp(dims, "scalar") ? dims : NULL, "x"); d; d = strtok(NULL, "x")) {
    if (rank == MAX_RANK) fail("too many dimensions", arg);
    shape[rank] = atoll(d);
    count *= (size_t)shape[rank++];
  }
  ONNXTensorElementDataType element;
  size_t size;
  if (strcmp(type, "float") == 0) {
    element = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    size = sizeof(float);
  } else if (strcmp(type, "int64") == 0) {
    element = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    size = sizeof(int64_t);
  } else {
    fail("type must be float or int64", type);
  }
  void* data = read_file(file, count * size);
  OrtValue* value = NULL;
  check(ort->CreateTensorWithDataAsOrtValue(memory, data, count * size, shape, rank, element,
                                            &value));
  return value;
}

static void write_output(const char* dir, const char* name, OrtValue* value) {
  OrtTensorTypeAndShapeInfo* info;
  ONNXTensorElementDataType element;
  size_t count;
  void* data;
  check(ort->GetTensorTypeAndShape(value, &info));
  check(ort->GetTensorElementType(info, &element));
  check(ort->GetTensorShapeElementCount(info, &count));
  ort->ReleaseTensorTypeAndShapeInfo(info);
  size_t size = element == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 ? 8 : 4;
  check(ort->GetTensorMutableData(value, &data));
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.bin", dir, name);
  FILE* fh = fopen(path, "wb");
  if (fh == NULL || fwrite(data, size, count, fh) != count) fail("cannot write", path);
  fclose(fh);
  printf("%s %d %zu\n", name, (int)element, count);
}

int main(int argc, char** argv) {
  if (argc < 3 || argc - 3 > MAX_INPUTS) fail("usage", "run_tensors MODEL OUTDIR NAME=TYPE:DIMS:FILE ...");
  ort = OrtGetApiBase()->GetApi(ORT_API_VERSION);
  OrtEnv* env;
  OrtSessionOptions* options;
  OrtSession* session;
  OrtMemoryInfo* memory;
  OrtAllocator* allocator;
  check(ort->CreateEnv(ORT_LOGGING_LEVEL_FATAL, "run_tensors", &env));
  check(ort->CreateSessionOptions(&options));
  check(ort->SetIntraOpNumThreads(options, 1));
  check(ort->CreateSession(env, argv[1], options, &session));
  check(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));
  check(ort->GetAllocatorWithDefaultOptions(&allocator));
  const char* names[MAX_INPUTS];
  OrtValue* inputs[MAX_INPUTS];
  size_t n_inputs = (size_t)argc - 3;
  for (size_t i = 0; i < n_inputs; i++) inputs[i] = parse_input(argv[i + 3], &names[i], memory);
  size_t n_outputs;
  check(ort->SessionGetOutputCount(session, &n_outputs));
  char** out_names = calloc(n_outputs, sizeof *out_names);
  OrtValue** outputs = calloc(n_outputs, sizeof *outputs);
  for (size_t i = 0; i < n_outputs; i++)
    check(ort->SessionGetOutputName(session, i, allocator, &out_names[i]));
  check(ort->Run(session, NULL, names, (const OrtValue* const*)inputs, n_inputs,
                 (const char* const*)out_names, n_outputs, outputs));
  for (size_t i = 0; i < n_outputs; i++) write_output(argv[2], out_names[i], outputs[i]);
  return 0;
}
