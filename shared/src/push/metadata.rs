//! The SDK's per-call metadata headers, left out of Management API calls: the user agent
//! (`x-amz-user-agent`, rebuilt and formatted for every call: about a tenth of a push's
//! CPU), the invocation id and the attempt counter (`amz-sdk-invocation-id`,
//! `amz-sdk-request`). API Gateway serves `PostToConnection` the same without them; retries,
//! signing and errors are untouched.

use aws_runtime::invocation_id::InvocationIdInterceptor;
use aws_runtime::request_info::RequestInfoInterceptor;
use aws_runtime::user_agent::UserAgentInterceptor;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, disable_interceptor};
use aws_smithy_types::config_bag::ConfigBag;

/// Registered on the client: it switches the three interceptors off in each call's config
/// bag before they run (the client configuration has no public setting for this).
#[derive(Debug)]
pub(super) struct WithoutMetadataHeaders;

const WHY: &str = "API Gateway's Management API needs no SDK metadata headers";

impl Intercept for WithoutMetadataHeaders {
    fn name(&self) -> &'static str {
        "WithoutMetadataHeaders"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let state = cfg.interceptor_state();
        state.store_put(disable_interceptor::<UserAgentInterceptor>(WHY));
        state.store_put(disable_interceptor::<InvocationIdInterceptor>(WHY));
        state.store_put(disable_interceptor::<RequestInfoInterceptor>(WHY));
        Ok(())
    }
}
