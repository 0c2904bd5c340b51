# eigen for ONNX Runtime's CMake (onnxruntime-builder native lab).
# ORT declares eigen with FetchContent and no find-package arguments; with
# FETCHCONTENT_TRY_FIND_PACKAGE_MODE=ALWAYS that becomes find_package(eigen). Defer to the
# system's Eigen3 package: ORT links its target Eigen3::Eigen.
include(CMakeFindDependencyMacro)
find_dependency(Eigen3 CONFIG)
if(Eigen3_VERSION VERSION_LESS 3.4.90)
  # ORT calls ArrayBase::min/max<Eigen::PropagateNaN>, which Eigen 3.4.0 lacks (ORT pins a
  # newer Eigen). Add them through Eigen's own ArrayBase plugin hook, not by patching ORT.
  set_property(TARGET Eigen3::Eigen APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS
    "EIGEN_ARRAYBASE_PLUGIN=\"${CMAKE_CURRENT_LIST_DIR}/propagate_nan_minmax.h\"")
endif()
set(eigen_FOUND TRUE)
