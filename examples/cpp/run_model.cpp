// Runs an ONNX model through ONNX Runtime's C API from C++ and prints its outputs.
//
// Every input must be a float tensor; it is filled with 0, 0.1, ..., 0.9, 0, 0.1, ... (a
// dynamic dimension counts as 1). Prints "onnxruntime VERSION", then "NAME=v1,v2,..." for
// each output. Build: see README.md (CMake find_package; no flag is written by hand).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "onnxruntime_c_api.h"

namespace {

const OrtApi* ort = nullptr;

void check(OrtStatus* status) {
  if (status != nullptr) {
    std::string message = ort->GetErrorMessage(status);
    ort->ReleaseStatus(status);
    throw std::runtime_error(message);
  }
}

// An input tensor's data and shape; the OrtValue made over them borrows both.
struct Input {
  std::vector<float> data;
  std::vector<int64_t> shape;
};

Input describe_input(OrtSession* session, size_t index) {
  OrtTypeInfo* type = nullptr;
  check(ort->SessionGetInputTypeInfo(session, index, &type));
  std::unique_ptr<OrtTypeInfo, void (*)(OrtTypeInfo*)> owned(type, ort->ReleaseTypeInfo);
  const OrtTensorTypeAndShapeInfo* info = nullptr;
  check(ort->CastTypeInfoToTensorInfo(type, &info));
  ONNXTensorElementDataType element = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  if (info != nullptr) check(ort->GetTensorElementType(info, &element));
  if (element != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
    throw std::runtime_error("input " + std::to_string(index) + " is not a float tensor");
  size_t rank = 0;
  check(ort->GetDimensionsCount(info, &rank));
  Input input;
  input.shape.resize(rank);
  check(ort->GetDimensions(info, input.shape.data(), rank));
  size_t count = 1;
  for (int64_t& dim : input.shape) {
    if (dim < 1) dim = 1;
    count *= static_cast<size_t>(dim);
  }
  input.data.resize(count);
  for (size_t i = 0; i < count; i++) input.data[i] = static_cast<float>(i % 10) / 10.0f;
  return input;
}

void run(const char* model) {
  OrtEnv* env = nullptr;
  OrtSessionOptions* options = nullptr;
  OrtSession* session = nullptr;
  OrtMemoryInfo* memory = nullptr;
  OrtAllocator* allocator = nullptr;
  check(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "run_model", &env));
  check(ort->CreateSessionOptions(&options));
  check(ort->CreateSession(env, model, options, &session));
  check(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory));
  check(ort->GetAllocatorWithDefaultOptions(&allocator));
  size_t n_in = 0, n_out = 0;
  check(ort->SessionGetInputCount(session, &n_in));
  check(ort->SessionGetOutputCount(session, &n_out));

  std::vector<char*> in_names(n_in), out_names(n_out);
  std::vector<Input> data;
  std::vector<OrtValue*> inputs(n_in), outputs(n_out);
  for (size_t i = 0; i < n_in; i++) {
    check(ort->SessionGetInputName(session, i, allocator, &in_names[i]));
    data.push_back(describe_input(session, i));
    Input& input = data.back();
    check(ort->CreateTensorWithDataAsOrtValue(
        memory, input.data.data(), input.data.size() * sizeof(float), input.shape.data(),
        input.shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[i]));
  }
  for (size_t i = 0; i < n_out; i++)
    check(ort->SessionGetOutputName(session, i, allocator, &out_names[i]));
  check(ort->Run(session, nullptr, in_names.data(), inputs.data(), n_in, out_names.data(), n_out,
                 outputs.data()));

  for (size_t i = 0; i < n_out; i++) {
    OrtTensorTypeAndShapeInfo* info = nullptr;
    ONNXTensorElementDataType element = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    size_t count = 0;
    float* values = nullptr;
    check(ort->GetTensorTypeAndShape(outputs[i], &info));
    check(ort->GetTensorElementType(info, &element));
    check(ort->GetTensorShapeElementCount(info, &count));
    check(ort->GetTensorMutableData(outputs[i], reinterpret_cast<void**>(&values)));
    std::printf("%s=", out_names[i]);
    if (element != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) count = 0, std::printf("(not float)");
    for (size_t j = 0; j < count; j++) std::printf("%s%g", j ? "," : "", values[j]);
    std::printf("\n");
    ort->ReleaseTensorTypeAndShapeInfo(info);
    ort->ReleaseValue(outputs[i]);
  }
  for (OrtValue* value : inputs) ort->ReleaseValue(value);
  for (char* name : in_names) check(ort->AllocatorFree(allocator, name));
  for (char* name : out_names) check(ort->AllocatorFree(allocator, name));
  ort->ReleaseMemoryInfo(memory);
  ort->ReleaseSession(session);
  ort->ReleaseSessionOptions(options);
  ort->ReleaseEnv(env);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 2;
  }
  const OrtApiBase* base = OrtGetApiBase();
  ort = base->GetApi(ORT_API_VERSION);
  if (ort == nullptr) {
    std::fprintf(stderr, "error: this ONNX Runtime does not provide C API %d\n", ORT_API_VERSION);
    return 1;
  }
  std::printf("onnxruntime %s\n", base->GetVersionString());
  try {
    run(argv[1]);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
