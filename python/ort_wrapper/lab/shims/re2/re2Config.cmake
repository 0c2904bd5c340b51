# re2 for ONNX Runtime's CMake (onnxruntime-builder native lab).
# Debian ships libre2 with only a pkg-config file; ORT asks for the CMake package `re2`
# and links the target re2::re2. The static archive is preferred so the distribution
# carries re2 (and the abseil archives it needs) inside its own link line.
find_path(re2_INCLUDE_DIR NAMES re2/re2.h REQUIRED)
find_library(re2_LIBRARY NAMES libre2.a re2 REQUIRED)
if(NOT TARGET re2::re2)
  add_library(re2::re2 UNKNOWN IMPORTED)
  set_target_properties(re2::re2 PROPERTIES
    IMPORTED_LOCATION "${re2_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${re2_INCLUDE_DIR}")
endif()
set(re2_FOUND TRUE)
