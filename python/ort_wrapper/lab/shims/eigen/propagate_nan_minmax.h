// Included inside Eigen::ArrayBase<Derived> through EIGEN_ARRAYBASE_PLUGIN (onnxruntime-builder
// native lab). Eigen 3.4.0 has NaN-propagating min/max functors
// (internal::scalar_min_op<S, S, NaNPropagation>) but no ArrayBase::min/max<NaNPropagation>
// member templates, which ONNX Runtime calls; these four overloads add them on top.

template <int NaNPropagation, typename OtherDerived>
EIGEN_DEVICE_FUNC EIGEN_STRONG_INLINE const
    CwiseBinaryOp<internal::scalar_min_op<Scalar, Scalar, NaNPropagation>, const Derived,
                  const OtherDerived>(min)(const ArrayBase<OtherDerived>& other) const {
  return CwiseBinaryOp<internal::scalar_min_op<Scalar, Scalar, NaNPropagation>, const Derived,
                       const OtherDerived>(derived(), other.derived());
}

template <int NaNPropagation>
EIGEN_DEVICE_FUNC EIGEN_STRONG_INLINE const
    CwiseBinaryOp<internal::scalar_min_op<Scalar, Scalar, NaNPropagation>, const Derived,
                  const ConstantReturnType>(min)(const Scalar& other) const {
  return this->template min<NaNPropagation>(Derived::PlainObject::Constant(rows(), cols(), other));
}

template <int NaNPropagation, typename OtherDerived>
EIGEN_DEVICE_FUNC EIGEN_STRONG_INLINE const
    CwiseBinaryOp<internal::scalar_max_op<Scalar, Scalar, NaNPropagation>, const Derived,
                  const OtherDerived>(max)(const ArrayBase<OtherDerived>& other) const {
  return CwiseBinaryOp<internal::scalar_max_op<Scalar, Scalar, NaNPropagation>, const Derived,
                       const OtherDerived>(derived(), other.derived());
}

template <int NaNPropagation>
EIGEN_DEVICE_FUNC EIGEN_STRONG_INLINE const
    CwiseBinaryOp<internal::scalar_max_op<Scalar, Scalar, NaNPropagation>, const Derived,
                  const ConstantReturnType>(max)(const Scalar& other) const {
  return this->template max<NaNPropagation>(Derived::PlainObject::Constant(rows(), cols(), other));
}
