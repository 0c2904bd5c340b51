/* The native lab's smoke program: links the static distribution through its own header,
 * asks for the C API, prints the version, loads a model (Z = X + Y) and runs it. */
#include <stdio.h>
#include <stdlib.h>

#include "onnxruntime_c_api.h"

static const OrtApi* api;

static void check(OrtStatus* status, const char* what) {
  if (status != NULL) {
    fprintf(stderr, "%s failed: %s\n", what, api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 2;
  }
  const OrtApiBase* base = OrtGetApiBase();
  api = base->GetApi(ORT_API_VERSION);
  if (api == NULL) {
    printf("api=null\n");
    return 3;
  }
  printf("version=%s api=%d\n", base->GetVersionString(), ORT_API_VERSION);

  OrtEnv* env;
  OrtSessionOptions* options;
  OrtSession* session;
  OrtMemoryInfo* memory;
  check(api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "smoke", &env), "CreateEnv");
  check(api->CreateSessionOptions(&options), "CreateSessionOptions");
  check(api->CreateSession(env, argv[1], options, &session), "CreateSession");
  check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory), "MemoryInfo");

  float x[6] = {1, 2, 3, 4, 5, 6};
  float y[6] = {10, 20, 30, 40, 50, 60};
  const int64_t shape[2] = {2, 3};
  OrtValue* inputs[2] = {NULL, NULL};
  OrtValue* output = NULL;
  check(api->CreateTensorWithDataAsOrtValue(memory, x, sizeof x, shape, 2,
                                            ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[0]),
        "CreateTensor X");
  check(api->CreateTensorWithDataAsOrtValue(memory, y, sizeof y, shape, 2,
                                            ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[1]),
        "CreateTensor Y");
  const char* input_names[2] = {"X", "Y"};
  const char* output_names[1] = {"Z"};
  check(api->Run(session, NULL, input_names, (const OrtValue* const*)inputs, 2, output_names, 1,
                 &output),
        "Run");
  float* z;
  check(api->GetTensorMutableData(output, (void**)&z), "GetTensorMutableData");
  printf("Z=");
  for (int i = 0; i < 6; i++) printf("%s%g", i ? "," : "", z[i]);
  printf("\n");

  api->ReleaseValue(output);
  api->ReleaseValue(inputs[0]);
  api->ReleaseValue(inputs[1]);
  api->ReleaseMemoryInfo(memory);
  api->ReleaseSession(session);
  api->ReleaseSessionOptions(options);
  api->ReleaseEnv(env);
  return 0;
}
