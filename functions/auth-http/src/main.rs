//! Lambda entry point of `auth-http`.

use chatting_shared::startup::with_metrics;
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chatting_shared::startup::init_tracing();
    let auth = chatting_shared::startup::auth_from_lambda_env().await?;
    run(service_fn(|request: Request| with_metrics("auth-http", auth_http::handle(&auth, request)))).await
}
