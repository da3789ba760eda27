//! The shape of `template.yaml`, the AWS SAM stack: the four Rust functions and how cargo-lambda
//! builds them, the HTTP API, the WebSocket API with its three routes, the `$default` route
//! response, the Management API permission scoped to this stack's WebSocket API, and the two
//! storage profiles: MySQL + Redis in a VPC, or one DynamoDB table with per-function actions.
//!
//! CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`, …) are read by `serde_yaml` as
//! tagged values; [`load`] rewrites them to the long JSON form (`{"Ref": …}`, `{"Fn::Sub": …}`)
//! so that assertions can compare against `json!` literals. `scripts/lint-template` runs the
//! real linters (cfn-lint, `sam validate --lint`); these tests pin down what the service needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

/// A YAML value in CloudFormation's JSON form.
fn to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    other => panic!("a mapping key that is not a string: {other:?}"),
                };
                object.insert(key, to_json(value));
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let inner = to_json(tagged.value);
            match name.as_str() {
                "Ref" | "Condition" => single(name, inner),
                // `!GetAtt Resource.Attribute` is the short form of `[Resource, Attribute]`.
                "GetAtt" => match inner {
                    Value::String(dotted) => {
                        let (resource, attribute) = dotted.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    list => json!({ "Fn::GetAtt": list }),
                },
                _ => single(format!("Fn::{name}"), inner),
            }
        }
    }
}

fn single(key: String, value: Value) -> Value {
    Value::Object(Map::from_iter([(key, value)]))
}

fn load() -> Value {
    let path = root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    to_json(yaml)
}

fn resources(template: &Value) -> &Map<String, Value> {
    template["Resources"].as_object().expect("Resources")
}

fn resource<'a>(template: &'a Value, logical_id: &str, kind: &str) -> &'a Value {
    let resource = resources(template).get(logical_id).unwrap_or_else(|| panic!("no resource {logical_id}"));
    assert_eq!(resource["Type"], kind, "{logical_id} is a {kind}");
    resource
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(template).iter().filter(|(_, r)| r["Type"] == kind).map(|(id, r)| (id.as_str(), r)).collect()
}

fn reference(logical_id: &str) -> Value {
    json!({ "Ref": logical_id })
}

/// The `${…}` names inside a `Fn::Sub` string.
fn sub_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("an unclosed ${ in Fn::Sub");
        let name = &after[..end];
        if !name.starts_with('!') {
            names.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    names
}

/// (logical id, binary name) of the four functions.
const FUNCTIONS: [(&str, &str); 4] = [
    ("AuthHttpFunction", "auth-http"),
    ("WsConnectFunction", "ws-connect"),
    ("WsDisconnectFunction", "ws-disconnect"),
    ("WsMessageFunction", "ws-message"),
];
const WEBSOCKET_FUNCTIONS: [&str; 3] = ["WsConnectFunction", "WsDisconnectFunction", "WsMessageFunction"];

#[test]
fn is_a_sam_template() {
    let template = load();
    assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
    assert_eq!(template["Transform"], "AWS::Serverless-2016-10-31");
    for output in ["HttpApiUrl", "WebSocketUrl"] {
        assert!(template["Outputs"][output]["Value"].is_object(), "output {output}");
    }
}

#[test]
fn four_rust_functions_on_arm64_built_by_cargo_lambda() {
    let template = load();
    let functions = of_type(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), FUNCTIONS.len(), "exactly the four functions: {functions:?}");
    for (logical_id, binary) in FUNCTIONS {
        let function = resource(&template, logical_id, "AWS::Serverless::Function");
        let properties = &function["Properties"];
        assert_eq!(properties["Runtime"], "provided.al2023", "{logical_id}");
        assert_eq!(properties["Architectures"], json!(["arm64"]), "{logical_id}");
        assert_eq!(properties["Handler"], "bootstrap", "{logical_id}");
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{logical_id}");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], binary, "{logical_id}");

        // sam runs `cargo lambda build --bin BINARY` inside CodeUri: that directory's package
        // must be the one declaring the binary (at the workspace root, cargo would look only in
        // the default member, the local gateway).
        let code_uri = properties["CodeUri"].as_str().expect("CodeUri is a path");
        let manifest = std::fs::read_to_string(root().join(code_uri).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{logical_id}: CodeUri {code_uri} has no Cargo.toml: {e}"));
        assert!(manifest.contains(&format!("name = \"{binary}\"")), "{code_uri}/Cargo.toml declares {binary}");
        assert!(manifest.contains("[[bin]]"), "{code_uri}/Cargo.toml has a [[bin]] target");
    }
}

#[test]
fn globals_give_every_function_the_vpc_and_the_shared_settings() {
    let template = load();
    let globals = &template["Globals"]["Function"];
    assert!(globals["MemorySize"].as_u64().is_some_and(|m| m >= 128));
    assert!(globals["Timeout"].as_u64().is_some_and(|t| (1..=29).contains(&t)), "within API Gateway's 29 s");
    let vpc = json!({ "Fn::If": [
        "InVpc",
        { "SubnetIds": reference("SubnetIds"), "SecurityGroupIds": reference("SecurityGroupIds") },
        reference("AWS::NoValue"),
    ]});
    assert_eq!(globals["VpcConfig"], vpc, "a VPC on the mysql-redis profile only");
    let variables = &globals["Environment"]["Variables"];
    assert_eq!(
        variables["CHATTING_DATABASE_URL"],
        json!({ "Fn::If": ["OnDynamoDb", { "Fn::Sub": "dynamodb://${Table}" }, reference("DatabaseUrl")] })
    );
    assert_eq!(variables["CHATTING_JWT_SECRET_ARN"], reference("JwtSecret"));
    assert!(variables.get("CHATTING_JWT_SECRET").is_none(), "no secret by value");

    for logical_id in WEBSOCKET_FUNCTIONS {
        let variables =
            &resource(&template, logical_id, "AWS::Serverless::Function")["Properties"]["Environment"]["Variables"];
        assert_eq!(variables["CHATTING_REDIS_URL"], no_redis_on_dynamodb(), "{logical_id}");
        let endpoint = variables["CHATTING_MANAGEMENT_ENDPOINT"]["Fn::Sub"].as_str().expect("a !Sub endpoint");
        assert!(
            endpoint.starts_with("https://${WebSocketApi}.execute-api.${AWS::Region}."),
            "{logical_id}: {endpoint}"
        );
        assert!(endpoint.ends_with("/${StageName}"), "{logical_id}: {endpoint}");
    }
}

#[test]
fn every_variable_set_is_one_the_functions_read() {
    let template = load();
    // Configuration is read in config.rs, secrets by ARN in secrets.rs.
    let config = ["shared/src/config.rs", "shared/src/secrets.rs"]
        .map(|file| std::fs::read_to_string(root().join(file)).unwrap_or_else(|_| panic!("{file}")))
        .join("\n");
    let mut names = BTreeSet::new();
    let mut collect = |variables: &Value| {
        for name in variables.as_object().into_iter().flat_map(|v| v.keys()) {
            names.insert(name.clone());
        }
    };
    collect(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for (_, function) in of_type(&template, "AWS::Serverless::Function") {
        collect(&function["Properties"]["Environment"]["Variables"]);
    }
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        if name == "RUST_LOG" {
            continue;
        }
        assert!(config.contains(&format!("\"{name}\"")), "{name} is set but neither config.rs nor secrets.rs reads it");
    }
}

#[test]
fn parameters_keep_secrets_hidden_and_put_the_functions_in_a_vpc() {
    let template = load();
    let parameters = &template["Parameters"];
    // No secret is a parameter: the JWT key is generated, credentials come by secret ARN.
    assert!(parameters.get("JwtSecret").is_none(), "the JWT key is not a parameter");
    for arn in ["DatabaseSecretArn", "RedisSecretArn"] {
        assert_eq!(parameters[arn]["Default"], "", "{arn} is optional");
    }
    // Empty by default for the dynamodb profile; a rule demands them on mysql-redis.
    for backend in ["DatabaseUrl", "RedisUrl"] {
        assert_eq!(parameters[backend]["Default"], "", "{backend}");
        let assertions = template["Rules"]["MySqlRedisNeedsItsBackends"]["Assertions"].to_string();
        assert!(assertions.contains(&reference(backend).to_string()), "{backend} is required on mysql-redis");
    }
    assert_eq!(parameters["StorageProfile"]["Default"], "dynamodb", "a first deploy needs no VPC");
    assert_eq!(parameters["StorageProfile"]["AllowedValues"], json!(["mysql-redis", "dynamodb"]));
    assert_eq!(
        template["Conditions"]["OnDynamoDb"],
        json!({ "Fn::Equals": [reference("StorageProfile"), "dynamodb"] })
    );
    assert_eq!(parameters["SubnetIds"]["Type"], "CommaDelimitedList");
    assert_eq!(parameters["SecurityGroupIds"]["Type"], "CommaDelimitedList");
    assert_eq!(parameters["AllowedOrigins"]["Type"], "CommaDelimitedList");
    assert_eq!(parameters["StageName"]["Default"], "prod");
    assert!(parameters["LogLevel"]["Default"].is_string());
}

/// The stack generates the JWT key in Secrets Manager; every function may read exactly the
/// secrets it is given (the key, and the database and Redis secrets when named), by ARN.
#[test]
fn the_jwt_key_is_generated_and_functions_read_only_their_secrets() {
    let template = load();
    let generated =
        &resource(&template, "JwtSecret", "AWS::SecretsManager::Secret")["Properties"]["GenerateSecretString"];
    assert!(generated["PasswordLength"].as_u64().is_some_and(|n| n >= 32), "{generated}");
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        variables["CHATTING_DATABASE_SECRET_ARN"],
        json!({ "Fn::If": ["HasDatabaseSecret", reference("DatabaseSecretArn"), reference("AWS::NoValue")] })
    );
    assert_eq!(
        variables["CHATTING_REDIS_SECRET_ARN"],
        json!({ "Fn::If": ["HasRedisSecret", reference("RedisSecretArn"), reference("AWS::NoValue")] })
    );
    let statement = &resource(&template, "ReadSecretsPolicy", "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]
        ["Statement"];
    assert_eq!(statement.as_array().map(Vec::len), Some(1));
    assert_eq!(statement[0]["Action"], "secretsmanager:GetSecretValue");
    assert_eq!(
        statement[0]["Resource"],
        json!([
            reference("JwtSecret"),
            { "Fn::If": ["HasDatabaseSecret", reference("DatabaseSecretArn"), reference("AWS::NoValue")] },
            { "Fn::If": ["HasRedisSecret", reference("RedisSecretArn"), reference("AWS::NoValue")] },
        ])
    );
    for (logical_id, _) in of_type(&template, "AWS::Serverless::Function") {
        let policies = &resource(&template, logical_id, "AWS::Serverless::Function")["Properties"]["Policies"];
        assert!(
            policies.as_array().into_iter().flatten().any(|p| *p == reference("ReadSecretsPolicy")),
            "{logical_id}"
        );
    }
}

#[test]
fn http_api_routes_auth_and_health_to_auth_http_with_cors() {
    let template = load();
    let api = resource(&template, "HttpApi", "AWS::Serverless::HttpApi");
    assert_eq!(api["Properties"]["StageName"], "$default");
    let cors = &api["Properties"]["CorsConfiguration"];
    // The configured origins plus the stack's own web client; localhost when there are neither.
    let origins = cors["AllowOrigins"].to_string();
    for part in [
        reference("AllowedOrigins").to_string(),
        "https://${WebDistribution.DomainName}".into(),
        "http://localhost:3000".into(),
    ] {
        assert!(origins.contains(&part), "{part} in {origins}");
    }
    // '*' must never meet credentials; the API uses bearer tokens, so credentials stay off.
    assert_ne!(cors["AllowCredentials"], true);
    let headers = cors["AllowHeaders"].as_array().expect("AllowHeaders");
    assert!(headers.iter().any(|h| h.as_str().is_some_and(|h| h.eq_ignore_ascii_case("authorization"))));

    let events = resource(&template, "AuthHttpFunction", "AWS::Serverless::Function")["Properties"]["Events"]
        .as_object()
        .expect("Events");
    let mut routes = BTreeSet::new();
    for event in events.values() {
        assert_eq!(event["Type"], "HttpApi");
        assert_eq!(event["Properties"]["ApiId"], reference("HttpApi"));
        routes.insert((
            event["Properties"]["Method"].as_str().unwrap().to_owned(),
            event["Properties"]["Path"].as_str().unwrap().to_owned(),
        ));
    }
    let expected = [
        ("ANY", "/auth/{proxy+}"),
        ("POST", "/auth/signup"),
        ("POST", "/auth/login"),
        ("GET", "/auth/id-check/{userId}"),
        ("GET", "/health"),
    ];
    assert_eq!(routes, expected.into_iter().map(|(m, p)| (m.to_owned(), p.to_owned())).collect::<BTreeSet<_>>());
    // Only auth-http is on the HTTP API.
    for logical_id in WEBSOCKET_FUNCTIONS {
        assert!(resource(&template, logical_id, "AWS::Serverless::Function")["Properties"].get("Events").is_none());
    }
}

/// Both stages throttle every route, signup, login, id-check and `$connect` tighter, each
/// from a parameter; every function's concurrency is capped by a parameter (0: unreserved).
#[test]
fn stages_are_throttled_and_functions_capped_by_parameters() {
    let template = load();
    let parameter = |name: &str| -> u64 {
        let declared = &template["Parameters"][name];
        assert_eq!(declared["Type"], "Number", "{name}");
        declared["Default"].as_u64().unwrap_or_else(|| panic!("{name} has a numeric default"))
    };
    let throttled = |settings: &Value, rate: &str, burst: &str| {
        assert_eq!(settings["ThrottlingRateLimit"], reference(rate), "{settings}");
        assert_eq!(settings["ThrottlingBurstLimit"], reference(burst), "{settings}");
        assert!(parameter(rate) >= 1 && parameter(burst) >= parameter(rate), "{rate}/{burst}");
    };
    let http = &resource(&template, "HttpApi", "AWS::Serverless::HttpApi")["Properties"];
    throttled(&http["DefaultRouteSettings"], "HttpRateLimit", "HttpBurstLimit");
    for route in ["POST /auth/signup", "POST /auth/login", "GET /auth/id-check/{userId}"] {
        throttled(&http["RouteSettings"][route], "AuthRateLimit", "AuthBurstLimit");
    }
    assert!(parameter("AuthRateLimit") < parameter("HttpRateLimit"), "the password routes are the tighter ones");
    let stage = &resource(&template, "WebSocketStage", "AWS::ApiGatewayV2::Stage")["Properties"];
    throttled(&stage["DefaultRouteSettings"], "WebSocketRateLimit", "WebSocketBurstLimit");
    throttled(&stage["RouteSettings"]["$connect"], "ConnectRateLimit", "ConnectBurstLimit");

    let mut instances = 0;
    for (function, parameter_name) in [
        ("AuthHttpFunction", "AuthHttpConcurrency"),
        ("WsConnectFunction", "WsConnectConcurrency"),
        ("WsDisconnectFunction", "WsDisconnectConcurrency"),
        ("WsMessageFunction", "WsMessageConcurrency"),
    ] {
        let reserved =
            &resource(&template, function, "AWS::Serverless::Function")["Properties"]["ReservedConcurrentExecutions"];
        let choice =
            reserved["Fn::If"].as_array().unwrap_or_else(|| panic!("{function}: reserved concurrency is a choice"));
        assert_eq!(choice[1], reference(parameter_name), "{function}");
        assert_eq!(choice[2], reference("AWS::NoValue"), "{function}: 0 leaves it unreserved");
        instances += parameter(parameter_name);
    }
    // Two database connections per instance: the defaults stay within a small database.
    assert!(instances * 2 <= 150, "{instances} instances by default");
}

#[test]
fn websocket_api_selects_routes_by_action() {
    let template = load();
    let api = resource(&template, "WebSocketApi", "AWS::ApiGatewayV2::Api");
    assert_eq!(api["Properties"]["ProtocolType"], "WEBSOCKET");
    assert_eq!(api["Properties"]["RouteSelectionExpression"], "$request.body.action");
}

#[test]
fn three_routes_each_proxied_to_its_function() {
    let template = load();
    let routes = of_type(&template, "AWS::ApiGatewayV2::Route");
    let keys: BTreeSet<&str> = routes.iter().map(|(_, r)| r["Properties"]["RouteKey"].as_str().unwrap()).collect();
    assert_eq!(keys, BTreeSet::from(["$connect", "$disconnect", "$default"]));

    for (route_key, function) in
        [("$connect", "WsConnectFunction"), ("$disconnect", "WsDisconnectFunction"), ("$default", "WsMessageFunction")]
    {
        let (route_id, route) = routes.iter().find(|(_, r)| r["Properties"]["RouteKey"] == route_key).unwrap();
        assert_eq!(route["Properties"]["ApiId"], reference("WebSocketApi"), "{route_id}");
        let target = route["Properties"]["Target"]["Fn::Sub"].as_str().expect("Target is !Sub integrations/${…}");
        let integration_id = target.strip_prefix("integrations/${").and_then(|t| t.strip_suffix('}')).expect(target);
        let integration = resource(&template, integration_id, "AWS::ApiGatewayV2::Integration");
        assert_eq!(integration["Properties"]["ApiId"], reference("WebSocketApi"));
        assert_eq!(integration["Properties"]["IntegrationType"], "AWS_PROXY", "{integration_id}");
        let uri = integration["Properties"]["IntegrationUri"]["Fn::Sub"].as_str().expect("IntegrationUri is a !Sub");
        assert!(uri.contains(":apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"), "{uri}");
        assert!(uri.contains(&format!("${{{function}.Arn}}")), "{route_key} invokes {function}: {uri}");
        assert!(uri.ends_with("/invocations"), "{uri}");
    }
}

#[test]
fn default_route_answers_with_the_function_reply() {
    let template = load();
    let (route_id, route) = of_type(&template, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .find(|(_, r)| r["Properties"]["RouteKey"] == "$default")
        .unwrap();
    assert_eq!(route["Properties"]["RouteResponseSelectionExpression"], "$default");

    let responses = of_type(&template, "AWS::ApiGatewayV2::RouteResponse");
    assert_eq!(responses.len(), 1, "one route response, on $default");
    let response = &responses[0].1["Properties"];
    assert_eq!(response["ApiId"], reference("WebSocketApi"));
    assert_eq!(response["RouteId"], reference(route_id));
    assert_eq!(response["RouteResponseKey"], "$default");

    let integration_id = route["Properties"]["Target"]["Fn::Sub"].as_str().unwrap()["integrations/${".len()..]
        .trim_end_matches('}')
        .to_owned();
    let integration_responses = of_type(&template, "AWS::ApiGatewayV2::IntegrationResponse");
    assert_eq!(integration_responses.len(), 1);
    let integration_response = &integration_responses[0].1["Properties"];
    assert_eq!(integration_response["ApiId"], reference("WebSocketApi"));
    assert_eq!(integration_response["IntegrationId"], reference(&integration_id));
    assert_eq!(integration_response["IntegrationResponseKey"], "$default");
    // No templates: the body passes through unchanged.
    assert!(integration_response.get("ResponseTemplates").is_none());
}

#[test]
fn stage_is_deployed_after_every_route() {
    let template = load();
    let deployments = of_type(&template, "AWS::ApiGatewayV2::Deployment");
    assert_eq!(deployments.len(), 1);
    let (deployment_id, deployment) = deployments[0];
    assert_eq!(deployment["Properties"]["ApiId"], reference("WebSocketApi"));
    let depends_on: BTreeSet<&str> =
        deployment["DependsOn"].as_array().expect("DependsOn").iter().map(|d| d.as_str().unwrap()).collect();
    for (route_id, _) in of_type(&template, "AWS::ApiGatewayV2::Route") {
        assert!(depends_on.contains(route_id), "the deployment waits for {route_id}");
    }

    let stage = resource(&template, "WebSocketStage", "AWS::ApiGatewayV2::Stage");
    assert_eq!(stage["Properties"]["ApiId"], reference("WebSocketApi"));
    assert_eq!(stage["Properties"]["StageName"], reference("StageName"));
    assert_eq!(stage["Properties"]["DeploymentId"], reference(deployment_id));

    let url = template["Outputs"]["WebSocketUrl"]["Value"]["Fn::Sub"].as_str().expect("WebSocketUrl is a !Sub");
    assert!(url.starts_with("wss://${WebSocketApi}.execute-api.${AWS::Region}."), "{url}");
    assert!(url.ends_with("/${StageName}"), "{url}");
    let http = template["Outputs"]["HttpApiUrl"]["Value"]["Fn::Sub"].as_str().expect("HttpApiUrl is a !Sub");
    assert!(http.starts_with("https://${HttpApi}.execute-api."), "{http}");
}

#[test]
fn api_gateway_may_invoke_each_websocket_function() {
    let template = load();
    let permissions = of_type(&template, "AWS::Lambda::Permission");
    for function in WEBSOCKET_FUNCTIONS {
        let (id, permission) = permissions
            .iter()
            .find(|(_, p)| p["Properties"]["FunctionName"] == reference(function))
            .unwrap_or_else(|| panic!("no AWS::Lambda::Permission for {function}"));
        let properties = &permission["Properties"];
        assert_eq!(properties["Action"], "lambda:InvokeFunction", "{id}");
        assert_eq!(properties["Principal"], "apigateway.amazonaws.com", "{id}");
        let source = properties["SourceArn"]["Fn::Sub"].as_str().expect("SourceArn is a !Sub");
        assert!(
            source.starts_with("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/"),
            "{id}: {source}"
        );
    }
}

#[test]
fn manage_connections_is_allowed_on_this_websocket_api_only() {
    let template = load();
    let scoped = json!({
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/*"
    });
    let mut granting = Vec::new();
    for (policy_id, policy) in of_type(&template, "AWS::IAM::ManagedPolicy") {
        for statement in policy["Properties"]["PolicyDocument"]["Statement"].as_array().expect("Statement") {
            let actions = match &statement["Action"] {
                Value::Array(actions) => actions.clone(),
                action => vec![action.clone()],
            };
            if actions.iter().any(|a| a.as_str().is_some_and(|a| a.starts_with("execute-api:"))) {
                assert_eq!(actions, vec![json!("execute-api:ManageConnections")], "{policy_id}");
                assert_eq!(statement["Effect"], "Allow");
                assert_eq!(statement["Resource"], scoped, "{policy_id} is scoped to this API");
                granting.push(policy_id);
            }
        }
    }
    assert_eq!(granting.len(), 1, "one ManageConnections statement: {granting:?}");
    let policy = reference(granting[0]);

    for (logical_id, _) in FUNCTIONS {
        let policies = resource(&template, logical_id, "AWS::Serverless::Function")["Properties"]["Policies"].clone();
        let attached = policies.as_array().is_some_and(|p| p.contains(&policy));
        // The WebSocket functions push; the HTTP function never needs to.
        assert_eq!(attached, WEBSOCKET_FUNCTIONS.contains(&logical_id), "{logical_id}");
    }
}

fn no_redis_on_dynamodb() -> Value {
    json!({ "Fn::If": ["OnDynamoDb", reference("AWS::NoValue"), reference("RedisUrl")] })
}

#[test]
fn dynamodb_profile_has_one_on_demand_table_with_ttl_and_point_in_time_recovery() {
    let template = load();
    let tables = of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "single-table design");
    let (logical_id, table) = tables[0];
    assert_eq!(logical_id, "Table");
    assert_eq!(table["Condition"], "OnDynamoDb", "only on the dynamodb profile");
    assert_eq!(table["DeletionPolicy"], "Retain");
    let properties = &table["Properties"];
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST", "nothing provisioned: an idle stack costs storage only");
    assert_eq!(
        properties["KeySchema"],
        json!([{ "AttributeName": "pk", "KeyType": "HASH" }, { "AttributeName": "sk", "KeyType": "RANGE" }])
    );
    assert_eq!(
        properties["AttributeDefinitions"],
        json!([{ "AttributeName": "pk", "AttributeType": "S" }, { "AttributeName": "sk", "AttributeType": "S" }])
    );
    assert!(properties.get("GlobalSecondaryIndexes").is_none(), "every access pattern is a key or one partition");
    assert_eq!(properties["TimeToLiveSpecification"], json!({ "AttributeName": "ttl", "Enabled": true }));
    assert_eq!(properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    // The store reads these names; the template must agree with the code.
    let code = std::fs::read_to_string(root().join("shared/src/dynamodb.rs")).expect("shared/src/dynamodb.rs");
    for constant in [r#"PK: &str = "pk""#, r#"SK: &str = "sk""#, r#"TTL: &str = "ttl""#] {
        assert!(code.contains(constant), "shared/src/dynamodb.rs: {constant}");
    }
}

#[test]
fn each_function_gets_only_its_own_table_actions_on_the_dynamodb_profile() {
    let template = load();
    // `Scan` is every function's for the store's one-time upgrade, which any cold start may
    // carry on (shared/src/store/dynamodb/upgrade.rs); no request of the service scans.
    let expected: [(&str, &[&str]); 4] = [
        ("AuthHttpFunction", &["GetItem", "PutItem", "UpdateItem", "TransactWriteItems", "Scan"]),
        (
            "WsConnectFunction",
            &["GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems", "Scan"],
        ),
        (
            "WsDisconnectFunction",
            &["GetItem", "BatchGetItem", "Query", "UpdateItem", "DeleteItem", "TransactWriteItems", "Scan"],
        ),
        (
            "WsMessageFunction",
            &["GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "Scan"],
        ),
    ];
    let mut granting = BTreeSet::new();
    for (policy_id, policy) in of_type(&template, "AWS::IAM::ManagedPolicy") {
        for statement in policy["Properties"]["PolicyDocument"]["Statement"].as_array().expect("Statement") {
            let actions: Vec<&str> = match &statement["Action"] {
                Value::Array(actions) => actions.iter().filter_map(Value::as_str).collect(),
                action => action.as_str().into_iter().collect(),
            };
            if actions.iter().any(|a| a.starts_with("dynamodb:")) {
                assert_eq!(policy["Condition"], "OnDynamoDb", "{policy_id} exists on the dynamodb profile only");
                assert_eq!(
                    statement["Resource"],
                    json!({ "Fn::GetAtt": ["Table", "Arn"] }),
                    "{policy_id}: this table only"
                );
                assert!(
                    actions.iter().all(|a| a.starts_with("dynamodb:") && !a.contains('*')),
                    "{policy_id}: {actions:?}"
                );
                granting.insert(policy_id);
            }
        }
    }
    for (logical_id, actions) in expected {
        let policy_id = format!("{}TablePolicy", logical_id.trim_end_matches("Function"));
        assert!(granting.contains(policy_id.as_str()), "{policy_id} grants table actions");
        let statements =
            &resource(&template, &policy_id, "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]["Statement"];
        let mut granted: Vec<String> = statements
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_else(|| vec![s["Action"].clone()]))
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        granted.sort();
        let mut wanted: Vec<String> = actions.iter().map(|a| format!("dynamodb:{a}")).collect();
        wanted.sort();
        assert_eq!(granted, wanted, "{policy_id}");
        let policies = &resource(&template, logical_id, "AWS::Serverless::Function")["Properties"]["Policies"];
        let attached = json!({ "Fn::If": ["OnDynamoDb", reference(&policy_id), reference("AWS::NoValue")] });
        assert!(
            policies.as_array().is_some_and(|p| p.contains(&attached)),
            "{logical_id} attaches {policy_id} on dynamodb"
        );
    }
    assert_eq!(granting.len(), 4, "one table policy per function: {granting:?}");
    // Nothing else in the stack may touch DynamoDB (no inline statements, no SAM policy templates).
    let functions = template["Resources"].to_string();
    assert!(!functions.contains("DynamoDBCrudPolicy") && !functions.contains("\"dynamodb:*\""));
}

/// Every `!Ref`, `!GetAtt` and `${…}` names a parameter, a resource or a pseudo parameter.
#[test]
fn every_reference_resolves() {
    let template = load();
    let mut known: BTreeSet<String> = template["Parameters"].as_object().unwrap().keys().cloned().collect();
    known.extend(resources(&template).keys().cloned());
    for pseudo in [
        "AWS::AccountId",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::URLSuffix",
        "AWS::NoValue",
    ] {
        known.insert(pseudo.to_owned());
    }

    fn walk(value: &Value, known: &BTreeSet<String>, seen: &mut usize) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(name)) = object.get("Ref") {
                    assert!(known.contains(name), "!Ref {name}");
                    *seen += 1;
                }
                if let Some(Value::Array(parts)) = object.get("Fn::GetAtt") {
                    let name = parts[0].as_str().unwrap();
                    assert!(known.contains(name), "!GetAtt {name}");
                    *seen += 1;
                }
                if let Some(Value::String(text)) = object.get("Fn::Sub") {
                    for name in sub_names(text) {
                        let base = name.split('.').next().unwrap();
                        assert!(known.contains(base), "${{{name}}} in !Sub {text}");
                        *seen += 1;
                    }
                }
                object.values().for_each(|v| walk(v, known, seen));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, known, seen)),
            _ => {}
        }
    }
    let mut seen = 0;
    for section in ["Globals", "Resources", "Outputs"] {
        walk(&template[section], &known, &mut seen);
    }
    for (_, resource) in resources(&template) {
        for dependency in resource["DependsOn"].as_array().into_iter().flatten() {
            assert!(known.contains(dependency.as_str().unwrap()), "DependsOn {dependency}");
        }
    }
    assert!(seen > 30, "found only {seen} references");
}

/// JSON logs at a chosen level, X-Ray as an option, access logs on both stages, and alarms on
/// every function's errors and throttles and on both APIs' server errors, notifying an
/// optional SNS topic.
#[test]
fn logs_tracing_access_logs_and_alarms_are_configured() {
    let template = load();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(globals["LoggingConfig"]["ApplicationLogLevel"], reference("LogLevel"));
    assert_eq!(globals["Tracing"], reference("Tracing"));
    assert_eq!(template["Parameters"]["Tracing"]["AllowedValues"], json!(["Active", "PassThrough"]));
    assert!(globals["Environment"]["Variables"].get("RUST_LOG").is_none(), "the level is LoggingConfig's");

    let http = &resource(&template, "HttpApi", "AWS::Serverless::HttpApi")["Properties"]["AccessLogSettings"];
    assert_eq!(http["DestinationArn"], json!({ "Fn::GetAtt": ["HttpApiAccessLogs", "Arn"] }));
    let ws = &resource(&template, "WebSocketStage", "AWS::ApiGatewayV2::Stage")["Properties"]["AccessLogSettings"];
    assert_eq!(ws["DestinationArn"], json!({ "Fn::GetAtt": ["WebSocketAccessLogs", "Arn"] }));
    for format in [&http["Format"], &ws["Format"]] {
        let fields: Value =
            serde_json::from_str(format.as_str().expect("a format string")).expect("access logs are JSON");
        assert!(fields["requestId"].is_string() && fields["status"].is_string(), "{fields}");
    }
    resource(&template, "HttpApiAccessLogs", "AWS::Logs::LogGroup");
    resource(&template, "WebSocketAccessLogs", "AWS::Logs::LogGroup");
    assert_eq!(
        resource(&template, "ApiGatewayAccount", "AWS::ApiGateway::Account")["Condition"],
        "CreateApiGatewayLogsRole"
    );

    let alarms = of_type(&template, "AWS::CloudWatch::Alarm");
    let watched: BTreeSet<(String, String)> = alarms
        .iter()
        .map(|(_, alarm)| {
            let properties = &alarm["Properties"];
            assert_eq!(
                properties["AlarmActions"],
                json!({ "Fn::If": ["HasAlarmTopic", [reference("AlarmTopicArn")], reference("AWS::NoValue")] })
            );
            let subject = properties["Dimensions"][0]["Value"]["Ref"].as_str().unwrap_or_default().to_owned();
            (subject, properties["MetricName"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    for function in ["AuthHttpFunction", "WsConnectFunction", "WsDisconnectFunction", "WsMessageFunction"] {
        for metric in ["Errors", "Throttles"] {
            assert!(watched.contains(&(function.to_owned(), metric.to_owned())), "{function} {metric}: {watched:?}");
        }
    }
    assert!(watched.contains(&("HttpApi".to_owned(), "5xx".to_owned())));
    assert!(watched.contains(&("WebSocketApi".to_owned(), "IntegrationError".to_owned())));
    assert!(watched.contains(&("WebSocketApi".to_owned(), "ExecutionError".to_owned())));
}

/// The web client, when asked for: a private bucket only the stack's distribution reads
/// (origin access control), the page's security headers from a response headers policy, its
/// URL an output and an allowed origin of both APIs.
#[test]
fn the_web_client_is_served_from_a_private_bucket_through_cloudfront() {
    let template = load();
    assert_eq!(template["Parameters"]["WebClient"]["AllowedValues"], json!(["cloudfront", "none"]));
    for (logical_id, kind) in [
        ("WebBucket", "AWS::S3::Bucket"),
        ("WebOriginAccessControl", "AWS::CloudFront::OriginAccessControl"),
        ("WebHeadersPolicy", "AWS::CloudFront::ResponseHeadersPolicy"),
        ("WebDistribution", "AWS::CloudFront::Distribution"),
        ("WebBucketPolicy", "AWS::S3::BucketPolicy"),
    ] {
        assert_eq!(resource(&template, logical_id, kind)["Condition"], "DeployWeb", "{logical_id}");
    }
    let bucket = &resource(&template, "WebBucket", "AWS::S3::Bucket")["Properties"]["PublicAccessBlockConfiguration"];
    for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(bucket[flag], true, "{flag}");
    }
    let statement = &resource(&template, "WebBucketPolicy", "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
        [0];
    assert_eq!(statement["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(statement["Action"], "s3:GetObject");
    let source = statement["Condition"]["StringEquals"]["AWS:SourceArn"].to_string();
    assert!(source.contains("distribution/${WebDistribution}"), "only this distribution: {source}");

    let config =
        &resource(&template, "WebDistribution", "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"];
    assert_eq!(
        config["Origins"][0]["OriginAccessControlId"],
        json!({ "Fn::GetAtt": ["WebOriginAccessControl", "Id"] })
    );
    assert_eq!(config["DefaultCacheBehavior"]["ViewerProtocolPolicy"], "redirect-to-https");
    assert_eq!(config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"], reference("WebHeadersPolicy"));
    let headers = &resource(&template, "WebHeadersPolicy", "AWS::CloudFront::ResponseHeadersPolicy")["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    let csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"].to_string();
    for directive in [
        "default-src 'self'",
        "connect-src 'self' https://*.execute-api.",
        "wss://*.execute-api.",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(headers["FrameOptions"]["FrameOption"], "DENY");

    assert_eq!(template["Outputs"]["WebUrl"]["Condition"], "DeployWeb");
    let origins =
        resource(&template, "WsConnectFunction", "AWS::Serverless::Function")["Properties"]["Environment"]["Variables"]
            ["CHATTING_ALLOWED_ORIGINS"]
            .to_string();
    assert!(origins.contains("https://${WebDistribution.DomainName}"), "the web client may open WebSockets: {origins}");
    let script = std::fs::read_to_string(root().join("scripts/deploy-web")).expect("scripts/deploy-web");
    for output in ["WebBucketName", "WebDistributionId", "HttpApiUrl", "WebSocketUrl"] {
        assert!(script.contains(output), "scripts/deploy-web reads {output}");
    }
}

/// Every parameter reaches something (a setting no resource reads would mislead whoever
/// deploys), and the ones added for sessions and logs reach the right place.
#[test]
fn every_parameter_is_used() {
    let template = load();
    let mut used = String::new();
    for section in ["Globals", "Resources", "Outputs", "Conditions", "Rules"] {
        used.push_str(&template[section].to_string());
    }
    for name in template["Parameters"].as_object().expect("Parameters").keys() {
        let referenced = used.contains(&json!({ "Ref": name }).to_string()) || used.contains(&format!("${{{name}}}"));
        assert!(referenced, "parameter {name} is never used");
    }
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(variables["CHATTING_SESSION_LIFETIME_SECS"], reference("SessionLifetimeSecs"));
    assert_eq!(template["Parameters"]["ApiGatewayLogsRole"]["AllowedValues"], json!(["create", "existing"]));
    let role = resource(&template, "ApiGatewayLogsRoleResource", "AWS::IAM::Role");
    assert_eq!(role["Condition"], "CreateApiGatewayLogsRole");
    assert!(role["Properties"]["ManagedPolicyArns"].to_string().contains("AmazonAPIGatewayPushToCloudWatchLogs"));
}
