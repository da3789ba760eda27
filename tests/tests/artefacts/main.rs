//! What is deployed, checked without AWS: the SAM template, the bundled `sam local invoke`
//! events, and the real function binaries under an emulated Lambda Runtime API.

mod events;
mod lambda_runtime;
mod template;
