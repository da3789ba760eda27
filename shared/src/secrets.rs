//! Secrets a Lambda function reads from AWS Secrets Manager once per cold start, named by
//! ARN in its environment, so that no secret sits in the function's configuration:
//!
//! | variable | the secret's value |
//! |---|---|
//! | `CHATTING_JWT_SECRET_ARN` | the key that signs access tokens (32+ bytes; the stack generates it) |
//! | `CHATTING_DATABASE_SECRET_ARN` | `{"username": …, "password": …}`, e.g. RDS's managed master-user secret; put into `CHATTING_DATABASE_URL` |
//! | `CHATTING_REDIS_SECRET_ARN` | the Redis AUTH token; put into `CHATTING_REDIS_URL` |
//!
//! The client finds its credentials as [`crate::aws`] says (in Lambda: the function's role)
//! and honours `AWS_ENDPOINT_URL_SECRETS_MANAGER` and `AWS_ENDPOINT_URL`, as the AWS CLI does.

use serde::Deserialize;

use crate::domain::Secret;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    #[error("{variable}: GetSecretValue failed: {reason}")]
    Read { variable: &'static str, reason: String },
    #[error("{variable}: the secret has no string value")]
    NotAString { variable: &'static str },
    #[error("{variable}: expected {{\"username\", \"password\"}}: {reason}")]
    BadDatabaseSecret { variable: &'static str, reason: String },
    #[error("{variable}: {url_variable} is not a URL credentials can go into")]
    BadUrl { variable: &'static str, url_variable: &'static str },
}

/// What the secrets named in the environment hold; `None` for each one not named.
#[derive(Default)]
pub struct LambdaSecrets {
    pub jwt: Option<Secret>,
    pub database: Option<DatabaseCredential>,
    pub redis_token: Option<Secret>,
}

#[derive(Deserialize)]
pub struct DatabaseCredential {
    pub username: String,
    password: String,
}

impl DatabaseCredential {
    pub fn password(&self) -> &str {
        &self.password
    }
}

const JWT: &str = "CHATTING_JWT_SECRET_ARN";
const DATABASE: &str = "CHATTING_DATABASE_SECRET_ARN";
/// A secret holds at most 64 KB; its answer adds the ARN, name and version.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
const REDIS: &str = "CHATTING_REDIS_SECRET_ARN";

/// Reads every secret the environment names, all at once; none named, no request.
pub async fn read_from_env() -> Result<LambdaSecrets, SecretsError> {
    let arn = crate::config::var;
    let (jwt_arn, database_arn, redis_arn) = (arn(JWT), arn(DATABASE), arn(REDIS));
    if jwt_arn.is_none() && database_arn.is_none() && redis_arn.is_none() {
        return Ok(LambdaSecrets::default());
    }
    let endpoint = crate::aws::endpoint_from_env("SECRETS_MANAGER");
    let sdk = crate::aws::AwsSettings::from_env().sdk_config(endpoint.as_deref()).await?;
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&sdk)
            .http_client(crate::aws::KeepAliveClient::new(MAX_ANSWER_BYTES))
            .build(),
    );
    let read = |variable: &'static str, arn: Option<String>| {
        let client = client.clone();
        async move {
            match arn {
                Some(arn) => string_value(&client, variable, &arn).await.map(Some),
                None => Ok(None),
            }
        }
    };
    let (jwt, database, redis) =
        futures::try_join!(read(JWT, jwt_arn), read(DATABASE, database_arn), read(REDIS, redis_arn))?;
    let database = database
        .map(|raw| {
            serde_json::from_str::<DatabaseCredential>(raw.expose())
                .map_err(|err| SecretsError::BadDatabaseSecret { variable: DATABASE, reason: err.to_string() })
        })
        .transpose()?;
    Ok(LambdaSecrets { jwt, database, redis_token: redis })
}

async fn string_value(
    client: &aws_sdk_secretsmanager::Client,
    variable: &'static str,
    arn: &str,
) -> Result<Secret, SecretsError> {
    let answer = client.get_secret_value().secret_id(arn).send().await.map_err(|err| SecretsError::Read {
        variable,
        reason: aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
    })?;
    answer.secret_string.map(Secret::from_config).ok_or(SecretsError::NotAString { variable })
}

/// `url` with `username` and `password` as its credentials (percent-encoded as needed).
pub fn with_credentials(
    url: &str,
    username: &str,
    password: &str,
    variable: &'static str,
    url_variable: &'static str,
) -> Result<String, SecretsError> {
    let bad = || SecretsError::BadUrl { variable, url_variable };
    let mut parsed = url::Url::parse(url).map_err(|_| bad())?;
    parsed.set_username(username).map_err(|()| bad())?;
    parsed.set_password(Some(password).filter(|p| !p.is_empty())).map_err(|()| bad())?;
    Ok(parsed.into())
}

impl LambdaSecrets {
    /// `database_url` with the database secret's credentials, when there is one.
    pub fn database_url(&self, database_url: String) -> Result<String, SecretsError> {
        match &self.database {
            Some(credential) => with_credentials(
                &database_url,
                &credential.username,
                credential.password(),
                DATABASE,
                "CHATTING_DATABASE_URL",
            ),
            None => Ok(database_url),
        }
    }

    /// `redis_url` with the AUTH token, when there is one.
    pub fn redis_url(&self, redis_url: Option<String>) -> Result<Option<String>, SecretsError> {
        match (&self.redis_token, redis_url) {
            (Some(token), Some(url)) => {
                with_credentials(&url, "", token.expose(), REDIS, "CHATTING_REDIS_URL").map(Some)
            }
            (_, url) => Ok(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_into_the_url_percent_encoded() {
        let url = with_credentials(
            "mysql://db.example.com:3306/chat",
            "admin",
            "p@ss:w/rd",
            DATABASE,
            "CHATTING_DATABASE_URL",
        );
        assert_eq!(url.unwrap(), "mysql://admin:p%40ss%3Aw%2Frd@db.example.com:3306/chat");
        let redis = with_credentials("rediss://cache.example.com:6379", "", "tok en", REDIS, "CHATTING_REDIS_URL");
        assert_eq!(redis.unwrap(), "rediss://:tok%20en@cache.example.com:6379");
        assert!(with_credentials("not a url", "a", "b", DATABASE, "CHATTING_DATABASE_URL").is_err());
    }
}
