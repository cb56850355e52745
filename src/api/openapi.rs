//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, generated from
//! the handlers and their types (utoipa), never written by hand.
//!
//! Routes and their documentation are one thing: every route is registered
//! through an [`OpenApiRouter`] with `routes!(handler)`, which takes the path
//! and method from the handler's `#[utoipa::path]` and adds both the axum
//! route and the document's operation. To add a route:
//!
//! 1. give the handler `#[utoipa::path(method, path = "...", params(...),
//!    request_body = ..., responses(...), security(("bearer" = [])))]`;
//!    admin routes list their own answers plus [`AdminErrors`] (401, 403, 503);
//! 2. take and return typed bodies that derive `serde::Serialize` and
//!    `utoipa::ToSchema` (no `json!`), so the document follows the code;
//! 3. register it with `.routes(routes!(handler))` in its module's
//!    `router()` (admin modules merge into `admin::router()`, which is
//!    nested under `/api/v1`);
//! 4. list it in `the_document_has_every_route_of_the_listener_with_its_methods`
//!    below; `scripts/schemathesis.sh` then calls it against its document.
//!
//! A route added with plain axum (`.route(...)`) would be served but missing
//! from the document: `every_route_is_registered_with_its_documentation`
//! below fails then. Path and query strings get the request-target limits
//! (`request_target.rs`) stated here, in [`document`], not per handler.
//!
//! [`AdminErrors`]: super::error::AdminErrors

use super::error::ErrorBody;
use super::request_target::{MAX_QUERY_VALUE_BYTES, MAX_SEGMENT_BYTES};
use crate::context::Ctx;
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "campaignd admin API", description = "Admin API, vendor callbacks, health and metrics of campaignd."),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
struct Fixed;

/// The `bearer` security scheme the admin operations name: `Authorization:
/// Bearer <http.admin_token>`.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Every route of the listener with its documentation.
pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::with_openapi(Fixed::openapi()).merge(super::root_router()).nest("/api/v1", super::admin::router())
}

/// The document, built once from [`routes`], with the request-target
/// limits on every parameter.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(routes().split_for_parts().1).expect("the document serializes");
        // utoipa fills the license from Cargo.toml, which names none: an
        // empty name is not a license.
        if doc["info"]["license"]["name"] == "" {
            doc["info"].as_object_mut().map(|info| info.remove("license"));
        }
        state_target_limits(&mut doc);
        doc
    })
}

/// The request-target check runs before every handler
/// (`request_target.rs`): every free-text path segment and query value is
/// UTF-8 without control characters (U+0000–U+001F, U+007F–U+009F) and at
/// most so many bytes. The document says so on each such parameter, in
/// characters: a quarter of the byte limit always fits, whatever the script.
fn state_target_limits(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for p in params {
                let (max_bytes, min_chars) = match p["in"].as_str() {
                    Some("path") => (MAX_SEGMENT_BYTES, 1),
                    Some("query") => (MAX_QUERY_VALUE_BYTES, 0),
                    _ => continue,
                };
                let schema = &mut p["schema"];
                let is_text = |t: &Value| t == "string" || t.as_array().is_some_and(|ts| ts.contains(&"string".into()));
                if !is_text(&schema["type"]) || schema.get("enum").is_some() {
                    continue;
                }
                schema["pattern"] = NO_CONTROL_CHARACTER.into();
                schema["maxLength"] = (max_bytes / 4).into();
                if min_chars > 0 {
                    schema["minLength"] = min_chars.into();
                }
            }
        }
    }
}

/// No character of Unicode's control category (what `char::is_control` tests).
const NO_CONTROL_CHARACTER: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document().clone()
    }

    /// The production code of every Rust file of `src/api`, test modules
    /// left out (`status_page/` holds the page's HTML, script and style,
    /// which route nothing).
    fn api_sources() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
            let code: Vec<&str> = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), code.join("\n")));
        }
        out
    }

    /// `routes!(handler)` cannot take a handler without `#[utoipa::path]`,
    /// and it adds the route and its operation together; only plain axum
    /// routing could serve a route the document lacks. So none may be used.
    #[test]
    fn every_route_is_registered_with_its_documentation() {
        let plain = [".route(", ".route_service(", ".nest_service(", "Router::new(", "routing::"];
        let sources = api_sources();
        assert!(
            sources.iter().any(|(f, code)| f == "admin.rs" && code.contains("routes!(")),
            "scanned the wrong files"
        );
        for (file, code) in &sources {
            let code = code.replace("OpenApiRouter", "");
            for p in plain {
                assert!(!code.contains(p), "src/api/{file} routes with `{p}`: use `.routes(routes!(handler))`");
            }
        }
    }

    #[test]
    fn the_document_has_every_route_of_the_listener_with_its_methods() {
        let doc = doc();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in [
            ("post", "/callbacks/{vendor_id}"),
            ("post", "/callbacks/{vendor_id}/predial"),
            ("get", "/healthz"),
            ("get", "/readyz"),
            ("get", "/metrics"),
            ("get", "/"),
            ("post", "/login"),
            ("post", "/logout"),
            ("get", "/status/page.js"),
            ("get", "/status/page.css"),
            ("get", "/api/v1/openapi.json"),
            ("get", "/api/v1/campaigns"),
            ("get", "/api/v1/forwarding/events"),
            ("post", "/api/v1/forwarding/events/{event_id}/replay"),
            ("post", "/api/v1/campaigns"),
            ("get", "/api/v1/campaigns/{name}"),
            ("put", "/api/v1/campaigns/{name}"),
            ("delete", "/api/v1/campaigns/{name}"),
            ("get", "/api/v1/campaigns/{name}/definition"),
            ("post", "/api/v1/campaigns/{name}/{action}"),
            ("get", "/api/v1/campaigns/{name}/contacts/{phone}/explain"),
            ("get", "/api/v1/campaigns/{name}/stats"),
            ("get", "/api/v1/campaigns/{name}/refresh-runs"),
            ("post", "/api/v1/campaigns/{name}/contacts"),
            ("get", "/api/v1/campaigns/{name}/contacts"),
            ("delete", "/api/v1/campaigns/{name}/contacts/{phone}"),
            ("get", "/api/v1/vendors"),
            ("get", "/api/v1/vendors/scorecard"),
            ("get", "/api/v1/callbacks/rejected"),
            ("get", "/api/v1/suppressions"),
            ("post", "/api/v1/suppressions"),
            ("delete", "/api/v1/suppressions/{phone}"),
        ] {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not documented");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    /// Admin operations name the bearer scheme, answer 401 when it is
    /// missing, and declare every path parameter their path has.
    #[test]
    fn admin_operations_need_the_token_and_declare_their_parameters() {
        let doc = doc();
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = segment.trim_matches(['{', '}']);
                    assert!(names.contains(&name), "{method} {path}: path parameter `{name}` undeclared");
                }
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no response");
                if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                    assert_eq!(op["security"], serde_json::json!([{ "bearer": [] }]), "{method} {path}");
                    assert!(op["responses"]["401"].is_object(), "{method} {path}: no 401");
                }
            }
        }
    }

    #[test]
    fn free_text_parameters_carry_the_request_target_limits() {
        let doc = doc();
        let params = |path: &str, method: &str| doc["paths"][path][method]["parameters"].as_array().unwrap().clone();
        let name = &params("/api/v1/campaigns/{name}", "get")[0];
        assert_eq!(name["name"], "name");
        assert_eq!(name["schema"]["maxLength"].as_u64(), Some(MAX_SEGMENT_BYTES as u64 / 4));
        assert_eq!(name["schema"]["pattern"], NO_CONTROL_CHARACTER);
        let import = params("/api/v1/suppressions", "post");
        let reason = import.iter().find(|p| p["name"] == "reason").unwrap();
        assert_eq!(reason["schema"]["maxLength"].as_u64(), Some(MAX_QUERY_VALUE_BYTES as u64 / 4));
        // A closed set of values needs no pattern.
        let export = params("/api/v1/suppressions", "get");
        let format = export.iter().find(|p| p["name"] == "format").unwrap();
        assert!(format["schema"].get("pattern").is_none(), "{format}");
    }

    #[test]
    fn every_ref_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = doc();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.contains(&"#/components/schemas/Error"), "{found:?}");
        for r in found {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{r}: not a local reference"));
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }
}
