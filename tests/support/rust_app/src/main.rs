//! Runs an ONNX model through ONNX Runtime's C API as `ort-sys` (the `ort` crate's bindings)
//! declares it, linked by `ort-sys`'s own build script.
//!
//! Every input must be a float tensor; it is filled with 0, 0.1, ..., 0.9, 0, 0.1, ... (a
//! dynamic dimension counts as 1). Prints "onnxruntime VERSION", "api N" (the C API version
//! used), then "NAME=v1,v2,..." for each output. One source serves every `ort-sys` release
//! from rc.10 (bindings for API 22) to rc.13 (API 17 by default): the API asked for is the
//! lower of the bindings' `ORT_API_VERSION` and what the library provides, and only functions
//! present since API 1 are called.
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};

use ort_sys::{
    ONNXTensorElementDataType, OrtAllocatorType, OrtApi, OrtLoggingLevel, OrtMemType, OrtSession,
    OrtStatusPtr, OrtValue, ORT_API_VERSION,
};

const FLOAT: ONNXTensorElementDataType =
    ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;

/// The C API version to ask for: ONNX Runtime 1.N provides versions 1 to N.
fn api_version(library_version: &str) -> u32 {
    let minor = library_version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok());
    minor.unwrap_or(ORT_API_VERSION).min(ORT_API_VERSION)
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

unsafe fn check(api: &OrtApi, status: OrtStatusPtr) {
    if !status.0.is_null() {
        fail(&CStr::from_ptr((api.GetErrorMessage)(status.0)).to_string_lossy());
    }
}

/// Input `i`'s shape (dynamic dimensions as 1), refusing anything but a float tensor.
unsafe fn input_shape(api: &OrtApi, session: *mut OrtSession, i: usize) -> Vec<i64> {
    let (mut type_info, mut info, mut n) = (null_mut(), null(), 0);
    let mut kind = ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    check(
        api,
        (api.SessionGetInputTypeInfo)(session, i, &mut type_info),
    );
    check(api, (api.CastTypeInfoToTensorInfo)(type_info, &mut info));
    if !info.is_null() {
        check(api, (api.GetTensorElementType)(info, &mut kind));
    }
    if kind != FLOAT {
        fail(&format!("input {i} is not a float tensor"));
    }
    check(api, (api.GetDimensionsCount)(info, &mut n));
    let mut shape = vec![0i64; n];
    check(api, (api.GetDimensions)(info, shape.as_mut_ptr(), n));
    shape.iter().map(|&d| d.max(1)).collect()
}

/// Output `value`'s elements as text (float tensors only).
unsafe fn values(api: &OrtApi, value: *mut OrtValue) -> String {
    let (mut info, mut n, mut data) = (null_mut(), 0, null_mut::<c_void>());
    let mut kind = ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    check(api, (api.GetTensorTypeAndShape)(value, &mut info));
    check(api, (api.GetTensorElementType)(info, &mut kind));
    check(api, (api.GetTensorShapeElementCount)(info, &mut n));
    check(api, (api.GetTensorMutableData)(value, &mut data));
    if kind != FLOAT {
        return "(not float)".into();
    }
    let floats = std::slice::from_raw_parts(data as *const f32, n);
    floats
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The session's input or output names.
unsafe fn names(api: &OrtApi, session: *mut OrtSession, inputs: bool) -> Vec<*const c_char> {
    let (mut count, mut allocator) = (0, null_mut());
    check(api, (api.GetAllocatorWithDefaultOptions)(&mut allocator));
    let (count_of, name_of) = if inputs {
        (api.SessionGetInputCount, api.SessionGetInputName)
    } else {
        (api.SessionGetOutputCount, api.SessionGetOutputName)
    };
    check(api, count_of(session, &mut count));
    (0..count)
        .map(|i| {
            let mut name = null_mut();
            check(api, name_of(session, i, allocator, &mut name));
            name as *const c_char
        })
        .collect()
}

unsafe fn run(api: &OrtApi, model: &str) {
    let (mut env, mut options, mut session, mut memory) =
        (null_mut(), null_mut(), null_mut(), null_mut());
    let log_id = CString::new("ort-sys-consumer").unwrap();
    let path = CString::new(model).unwrap_or_else(|_| fail("a model path with a NUL byte"));
    let level = OrtLoggingLevel::ORT_LOGGING_LEVEL_WARNING;
    check(api, (api.CreateEnv)(level, log_id.as_ptr(), &mut env));
    check(api, (api.CreateSessionOptions)(&mut options));
    check(
        api,
        (api.CreateSession)(env, path.as_ptr().cast(), options, &mut session),
    );
    let arena = OrtAllocatorType::OrtArenaAllocator;
    check(
        api,
        (api.CreateCpuMemoryInfo)(arena, OrtMemType::OrtMemTypeDefault, &mut memory),
    );

    let (in_names, out_names) = (names(api, session, true), names(api, session, false));
    let shapes: Vec<Vec<i64>> = (0..in_names.len())
        .map(|i| input_shape(api, session, i))
        .collect();
    let mut data: Vec<Vec<f32>> = shapes
        .iter()
        .map(|s| {
            (0..s.iter().product::<i64>())
                .map(|k| (k % 10) as f32 / 10.0)
                .collect()
        })
        .collect();
    let mut inputs: Vec<*mut OrtValue> = vec![null_mut(); in_names.len()];
    for ((shape, values), input) in shapes.iter().zip(data.iter_mut()).zip(inputs.iter_mut()) {
        let bytes = values.len() * std::mem::size_of::<f32>();
        let ptr = values.as_mut_ptr().cast();
        let create = api.CreateTensorWithDataAsOrtValue;
        check(
            api,
            create(
                memory,
                ptr,
                bytes,
                shape.as_ptr(),
                shape.len(),
                FLOAT,
                input,
            ),
        );
    }
    let inputs: Vec<*const OrtValue> = inputs.into_iter().map(|v| v as *const OrtValue).collect();
    let mut outputs = vec![null_mut(); out_names.len()];
    check(
        api,
        (api.Run)(
            session,
            null(),
            in_names.as_ptr(),
            inputs.as_ptr(),
            inputs.len(),
            out_names.as_ptr(),
            out_names.len(),
            outputs.as_mut_ptr(),
        ),
    );
    for (name, value) in out_names.iter().zip(&outputs) {
        println!(
            "{}={}",
            CStr::from_ptr(*name).to_string_lossy(),
            values(api, *value)
        );
    }
    // The process ends here; a long-running program releases each object (Release* in OrtApi).
}

fn main() {
    let model = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: ort-sys-consumer MODEL.onnx");
        std::process::exit(2);
    });
    unsafe {
        let base = &*ort_sys::OrtGetApiBase();
        let version = CStr::from_ptr((base.GetVersionString)())
            .to_string_lossy()
            .into_owned();
        println!("onnxruntime {version}");
        let wanted = api_version(&version);
        let api = (base.GetApi)(wanted);
        if api.is_null() {
            fail(&format!(
                "ONNX Runtime {version} does not provide C API {wanted}"
            ));
        }
        println!("api {wanted}");
        run(&*api, &model);
    }
}
