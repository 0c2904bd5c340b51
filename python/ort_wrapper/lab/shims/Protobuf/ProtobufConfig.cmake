# Protobuf for ONNX Runtime's CMake (onnxruntime-builder native lab).
# ORT asks for Protobuf in config mode; Debian's protobuf 3.21 installs no CMake package
# config. CMake's own FindProtobuf module finds it and defines protobuf::libprotobuf,
# protobuf::libprotobuf-lite and protobuf::protoc, which is all ORT uses.
include("${CMAKE_ROOT}/Modules/FindProtobuf.cmake")
if(NOT Protobuf_FOUND)
  set(Protobuf_NOT_FOUND_MESSAGE "CMake's FindProtobuf did not find protobuf")
endif()
