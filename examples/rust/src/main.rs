//! Runs an ONNX model through ONNX Runtime's C API from Rust and prints its outputs.
//!
//! Every input must be a float tensor; it is filled with 0, 0.1, ..., 0.9, 0, 0.1, ... (a
//! dynamic dimension counts as 1). Prints "onnxruntime VERSION", then "NAME=v1,v2,..." for
//! each output. No crate is used: `OrtGetApiBase` is declared below, and the `OrtApi` table
//! is read as what it is, an array of function pointers whose order ORT never changes
//! (onnxruntime_c_api.h: functions are only ever appended).
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::null_mut;

type Status = *mut c_void;
type Ptr = *mut c_void;

#[repr(C)]
struct OrtApiBase {
    get_api: unsafe extern "C" fn(u32) -> *const *const c_void,
    get_version_string: unsafe extern "C" fn() -> *const c_char,
}

extern "C" {
    fn OrtGetApiBase() -> *const OrtApiBase;
}

const API_VERSION: u32 = 21; // the oldest C API this program needs (ONNX Runtime 1.21)
const FLOAT: i32 = 1; // ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT
const WARNING: i32 = 2; // ORT_LOGGING_LEVEL_WARNING

// Positions in struct OrtApi (onnxruntime_c_api.h).
const GET_ERROR_MESSAGE: usize = 2;
const CREATE_ENV: usize = 3;
const CREATE_SESSION: usize = 7;
const RUN: usize = 9;
const CREATE_SESSION_OPTIONS: usize = 10;
const SESSION_GET_INPUT_COUNT: usize = 30;
const SESSION_GET_OUTPUT_COUNT: usize = 31;
const SESSION_GET_INPUT_TYPE_INFO: usize = 33;
const SESSION_GET_INPUT_NAME: usize = 36;
const SESSION_GET_OUTPUT_NAME: usize = 37;
const CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE: usize = 49;
const GET_TENSOR_MUTABLE_DATA: usize = 51;
const CAST_TYPE_INFO_TO_TENSOR_INFO: usize = 55;
const GET_TENSOR_ELEMENT_TYPE: usize = 60;
const GET_DIMENSIONS_COUNT: usize = 61;
const GET_DIMENSIONS: usize = 62;
const GET_TENSOR_SHAPE_ELEMENT_COUNT: usize = 64;
const GET_TENSOR_TYPE_AND_SHAPE: usize = 65;
const CREATE_CPU_MEMORY_INFO: usize = 69;
const GET_ALLOCATOR_WITH_DEFAULT_OPTIONS: usize = 78;

struct Api(*const *const c_void);

impl Api {
    /// The function at `index`, as the signature `F` the header gives it.
    unsafe fn f<F: Copy>(&self, index: usize) -> F {
        std::mem::transmute_copy(&*self.0.add(index))
    }

    unsafe fn check(&self, status: Status) {
        if !status.is_null() {
            let message: unsafe extern "C" fn(Status) -> *const c_char = self.f(GET_ERROR_MESSAGE);
            eprintln!(
                "error: {}",
                CStr::from_ptr(message(status)).to_string_lossy()
            );
            std::process::exit(1);
        }
    }

    unsafe fn name(&self, index: usize, session: Ptr, i: usize, allocator: Ptr) -> *mut c_char {
        let get: unsafe extern "C" fn(Ptr, usize, Ptr, *mut *mut c_char) -> Status = self.f(index);
        let mut name = null_mut();
        self.check(get(session, i, allocator, &mut name));
        name
    }

    /// Input `i`'s shape (dynamic dimensions as 1), refusing anything but a float tensor.
    unsafe fn input_shape(&self, session: Ptr, i: usize) -> Vec<i64> {
        let type_info: unsafe extern "C" fn(Ptr, usize, *mut Ptr) -> Status =
            self.f(SESSION_GET_INPUT_TYPE_INFO);
        let cast: unsafe extern "C" fn(Ptr, *mut Ptr) -> Status =
            self.f(CAST_TYPE_INFO_TO_TENSOR_INFO);
        let element: unsafe extern "C" fn(Ptr, *mut i32) -> Status =
            self.f(GET_TENSOR_ELEMENT_TYPE);
        let rank: unsafe extern "C" fn(Ptr, *mut usize) -> Status = self.f(GET_DIMENSIONS_COUNT);
        let dims: unsafe extern "C" fn(Ptr, *mut i64, usize) -> Status = self.f(GET_DIMENSIONS);
        let (mut ty, mut info, mut kind, mut n) = (null_mut(), null_mut(), 0, 0);
        self.check(type_info(session, i, &mut ty));
        self.check(cast(ty, &mut info));
        if !info.is_null() {
            self.check(element(info, &mut kind));
        }
        if kind != FLOAT {
            eprintln!("error: input {i} is not a float tensor");
            std::process::exit(1);
        }
        self.check(rank(info, &mut n));
        let mut shape = vec![0i64; n];
        self.check(dims(info, shape.as_mut_ptr(), n));
        shape.iter().map(|&d| d.max(1)).collect()
    }

    /// Output `value`'s elements (float tensors only).
    unsafe fn values(&self, value: Ptr) -> Option<&[f32]> {
        let shape: unsafe extern "C" fn(Ptr, *mut Ptr) -> Status =
            self.f(GET_TENSOR_TYPE_AND_SHAPE);
        let element: unsafe extern "C" fn(Ptr, *mut i32) -> Status =
            self.f(GET_TENSOR_ELEMENT_TYPE);
        let count: unsafe extern "C" fn(Ptr, *mut usize) -> Status =
            self.f(GET_TENSOR_SHAPE_ELEMENT_COUNT);
        let data: unsafe extern "C" fn(Ptr, *mut *mut c_void) -> Status =
            self.f(GET_TENSOR_MUTABLE_DATA);
        let (mut info, mut kind, mut n, mut ptr) = (null_mut(), 0, 0, null_mut());
        self.check(shape(value, &mut info));
        self.check(element(info, &mut kind));
        self.check(count(info, &mut n));
        self.check(data(value, &mut ptr));
        (kind == FLOAT).then(|| std::slice::from_raw_parts(ptr as *const f32, n))
    }
}

unsafe fn run(api: &Api, model: &str) {
    let create_env: unsafe extern "C" fn(i32, *const c_char, *mut Ptr) -> Status =
        api.f(CREATE_ENV);
    let create_options: unsafe extern "C" fn(*mut Ptr) -> Status = api.f(CREATE_SESSION_OPTIONS);
    let create_session: unsafe extern "C" fn(Ptr, *const c_char, Ptr, *mut Ptr) -> Status =
        api.f(CREATE_SESSION);
    let memory_info: unsafe extern "C" fn(i32, i32, *mut Ptr) -> Status =
        api.f(CREATE_CPU_MEMORY_INFO);
    let allocator: unsafe extern "C" fn(*mut Ptr) -> Status =
        api.f(GET_ALLOCATOR_WITH_DEFAULT_OPTIONS);
    let input_count: unsafe extern "C" fn(Ptr, *mut usize) -> Status =
        api.f(SESSION_GET_INPUT_COUNT);
    let output_count: unsafe extern "C" fn(Ptr, *mut usize) -> Status =
        api.f(SESSION_GET_OUTPUT_COUNT);
    type CreateTensor =
        unsafe extern "C" fn(Ptr, Ptr, usize, *const i64, usize, i32, *mut Ptr) -> Status;
    let create_tensor: CreateTensor = api.f(CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE);
    type Run = unsafe extern "C" fn(
        Ptr,
        Ptr,
        *const *mut c_char,
        *const Ptr,
        usize,
        *const *mut c_char,
        usize,
        *mut Ptr,
    ) -> Status;
    let run: Run = api.f(RUN);

    let (mut env, mut options, mut session, mut memory, mut alloc) =
        (null_mut(), null_mut(), null_mut(), null_mut(), null_mut());
    let log_id = CString::new("run_model").unwrap();
    let path = CString::new(model).expect("a model path without NUL bytes");
    api.check(create_env(WARNING, log_id.as_ptr(), &mut env));
    api.check(create_options(&mut options));
    api.check(create_session(env, path.as_ptr(), options, &mut session));
    api.check(memory_info(
        0, /* OrtArenaAllocator */
        0, /* OrtMemTypeDefault */
        &mut memory,
    ));
    api.check(allocator(&mut alloc));
    let (mut n_in, mut n_out) = (0, 0);
    api.check(input_count(session, &mut n_in));
    api.check(output_count(session, &mut n_out));

    let in_names: Vec<_> = (0..n_in)
        .map(|i| api.name(SESSION_GET_INPUT_NAME, session, i, alloc))
        .collect();
    let out_names: Vec<_> = (0..n_out)
        .map(|i| api.name(SESSION_GET_OUTPUT_NAME, session, i, alloc))
        .collect();
    let shapes: Vec<Vec<i64>> = (0..n_in).map(|i| api.input_shape(session, i)).collect();
    let mut data: Vec<Vec<f32>> = shapes
        .iter()
        .map(|s| {
            (0..s.iter().product::<i64>())
                .map(|k| (k % 10) as f32 / 10.0)
                .collect()
        })
        .collect();
    let mut inputs = vec![null_mut(); n_in];
    for (i, (shape, values)) in shapes.iter().zip(data.iter_mut()).enumerate() {
        let bytes = values.len() * std::mem::size_of::<f32>();
        let ptr = values.as_mut_ptr() as Ptr;
        api.check(create_tensor(
            memory,
            ptr,
            bytes,
            shape.as_ptr(),
            shape.len(),
            FLOAT,
            &mut inputs[i],
        ));
    }
    let mut outputs = vec![null_mut(); n_out];
    api.check(run(
        session,
        null_mut(),
        in_names.as_ptr(),
        inputs.as_ptr(),
        n_in,
        out_names.as_ptr(),
        n_out,
        outputs.as_mut_ptr(),
    ));
    for (name, value) in out_names.iter().zip(&outputs) {
        let text = match api.values(*value) {
            Some(v) => v
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(","),
            None => "(not float)".into(),
        };
        println!("{}={}", CStr::from_ptr(*name).to_string_lossy(), text);
    }
    // The process ends here; a long-running program releases each object (Release* in OrtApi).
}

fn main() {
    let model = match std::env::args().nth(1) {
        Some(m) => m,
        None => {
            eprintln!("usage: run-model MODEL.onnx");
            std::process::exit(2);
        }
    };
    unsafe {
        let base = &*OrtGetApiBase();
        let table = (base.get_api)(API_VERSION);
        if table.is_null() {
            eprintln!("error: this ONNX Runtime does not provide C API {API_VERSION}");
            std::process::exit(1);
        }
        let version = CStr::from_ptr((base.get_version_string)()).to_string_lossy();
        println!("onnxruntime {version}");
        run(&Api(table), &model);
    }
}
